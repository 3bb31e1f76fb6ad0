"""Anti-raid, anti-spam, the command rate limit, incidents and API keys, end to end through the
local Discord: members join in waves, spam, hammer commands; admins follow incidents and manage
keys; the tests look at what the bot posted, deleted and stored."""

from __future__ import annotations

import re

import pytest
from discord import app_commands

from models.security import (
    ApiKey,
    AuditLog,
    IncidentStatus,
    RateLimitViolation,
    SecurityIncident,
    SecurityLog,
    Severity,
)
from pegasus.errors import PermissionDenied
from pegasus.localdiscord import CommandUnavailable
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import security as service
from pegasus.services.security import SETTINGS as SECURITY
from pegasus.services.security import CommandRateLimiter

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.community", "cogs.security"))

SECRET = re.compile(r"pgs_[A-Za-z0-9]{40}")


@pytest.fixture
def env(discord_env: DiscordEnv) -> DiscordEnv:
    return discord_env


def security_cog(env: DiscordEnv):  # type: ignore[no-untyped-def]
    cog = env.bot.get_cog("Security")
    assert cog is not None
    return cog


# ------------------------------------------------------------------------------ anti-raid


async def test_a_raid_opens_one_incident_and_alerts_the_team(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"), events="member_leave")
    team = await env.guild.create_role("Security team", position=1)
    reply = await env.owner.slash(
        "security set", anti_raid=True, raid_joins=3, raid_seconds=60, alert_role=team
    )
    assert reply.ephemeral and "Security settings saved" in (reply.content or ""), reply.text
    assert "more than 3 joins within 60 seconds" in reply.text

    raiders = [await env.guild.add_member(f"raider{n}") for n in range(4)]
    await env.settle()
    alerts = env.channel("logs").bot_messages
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.content == team.mention
    assert [int(r) for r in (alert.allowed_mentions or {}).get("roles", [])] == [team.id]
    assert alert.embed is not None and alert.embed["title"] == "🚨 Raid detected"
    incident = await SecurityIncident.get()
    assert incident.incident_id in alert.embed["description"]
    assert sorted(incident.affected_users) == sorted(r.id for r in raiders)
    assert incident.severity is Severity.HIGH
    assert [a["type"] for a in incident.actions] == ["detected", "alert"]
    assert incident.actions[1]["message_id"] == alert.id

    # The raid goes on: the same incident grows, and nobody is pinged again.
    more = [await env.guild.add_member(f"raider{n}") for n in range(4, 7)]
    await env.settle()
    assert len(env.channel("logs").bot_messages) == 1
    assert await SecurityIncident.all().count() == 1
    incident = await SecurityIncident.get()
    assert sorted(incident.affected_users) == sorted(m.id for m in [*raiders, *more])
    assert await SecurityLog.filter(action="security.raid_detected").count() == 1


async def test_following_and_closing_an_incident(env: DiscordEnv) -> None:
    await env.owner.slash("security set", anti_raid=True, raid_joins=2, raid_seconds=60)
    for n in range(3):
        await env.guild.add_member(f"wave{n}")
    await env.settle()
    incident = await SecurityIncident.get()
    public_id = incident.incident_id

    listed = await env.owner.slash("security incidents", open_only=True)
    assert listed.ephemeral and public_id in listed.text and "open" in listed.text
    shown = await env.owner.slash("security incident", id=public_id.lower())
    assert f"Incident {public_id}: raid" in shown.text and "Members involved (3)" in shown.text

    noted = await env.owner.slash("security note", id=public_id, text="All new accounts, banned.")
    assert "Note added" in (noted.content or "") and "investigating" in (noted.content or "")
    closed = await env.owner.slash("security resolve", id=public_id)
    assert "is closed as resolved" in (closed.content or ""), closed.text
    again = await env.owner.slash("security resolve", id=public_id, false_positive=True)
    assert again.ephemeral and "already closed" in (again.content or "")

    stored = await SecurityIncident.get(incident_id=public_id)
    assert stored.status is IncidentStatus.RESOLVED
    assert stored.resolved_by_id == env.owner.id  # type: ignore[attr-defined]
    assert stored.notes[0]["text"] == "All new accounts, banned."
    missing = await env.owner.slash("security incident", id="I-ZZZZZ")
    assert "no incident `I-ZZZZZ`" in (missing.content or "")


async def test_normal_joins_open_nothing(env: DiscordEnv) -> None:
    await env.owner.slash("security set", anti_raid=True, raid_joins=5, raid_seconds=60)
    for n in range(5):
        await env.guild.add_member(f"friend{n}")
    await env.settle()
    assert await SecurityIncident.all().count() == 0


async def test_security_commands_need_manage_server(env: DiscordEnv) -> None:
    with pytest.raises(CommandUnavailable):
        await env.alice.slash("security settings")
    shown = await env.owner.slash("security settings")
    assert "no log channel" in shown.text  # alerts need one: the admin is told


# ------------------------------------------------------------------------------ anti-spam


async def test_mass_mentions_are_removed(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"), events="automod")
    await env.owner.slash("security set", anti_spam=True, max_mentions=3)
    fine = await env.alice.say("general", f"{env.bob.mention} {env.carol.mention} hi")
    spam = await env.alice.say("general", " ".join(m.mention for m in env.guild.members[:4]))
    await env.settle()
    assert not fine.deleted
    assert spam.deleted
    notice = env.channel("general").bot_messages[-1]
    assert notice.content.startswith(f"{env.alice.mention}, your message was removed")
    assert "too many mentions (4, the limit is 3)" in notice.content
    log = await SecurityLog.get(action="security.spam_mentions")
    assert log.user_id == env.alice.id  # type: ignore[attr-defined]
    assert log.metadata["message_id"] == spam.id and log.metadata["deleted"] is True
    report = env.channel("logs").bot_messages[-1]
    assert report.embed is not None and report.embed["title"] == "Spam removed"


async def test_repeated_messages_are_removed_from_the_third_on(env: DiscordEnv) -> None:
    await env.owner.slash("security set", anti_spam=True, max_duplicates=3)
    said = [await env.bob.say("general", "FREE NITRO here") for _ in range(4)]
    await env.settle()
    assert [message.deleted for message in said] == [False, False, True, True]
    assert await SecurityLog.filter(action="security.spam_duplicates").count() == 2
    # One notice, not one per removed message.
    notices = [m for m in env.channel("general").bot_messages if "was removed" in m.content]
    assert len(notices) == 1


async def test_staff_and_disabled_servers_are_left_alone(env: DiscordEnv) -> None:
    await env.owner.slash("security set", anti_spam=True, max_duplicates=2)
    staff = [await env.mod.say("general", "Read the rules") for _ in range(3)]
    await env.owner.slash("security set", enabled=False)
    members = [await env.carol.say("general", "again") for _ in range(3)]
    await env.settle()
    assert not any(message.deleted for message in [*staff, *members])
    assert await SecurityLog.all().count() == 0


# ------------------------------------------------------------------------------ rate limits


async def test_too_many_commands_are_refused_and_recorded(env: DiscordEnv) -> None:
    security_cog(env).limiter = CommandRateLimiter(limit=3, window_seconds=600)
    for _ in range(3):
        assert "Pong" in ((await env.alice.slash("ping")).content or "")
    refused = await env.alice.slash("ping")
    assert refused.ephemeral
    assert "Slow down! You are sending commands too fast" in (refused.content or "")
    await env.alice.slash("ping")  # the same burst: refused, not a new violation
    assert "Pong" in ((await env.bob.slash("ping")).content or "")  # others are not affected
    row = await RateLimitViolation.get(subject=f"user:{env.alice.id}")
    assert row.endpoint == "commands" and row.violations == 1 and not row.blocked
    assert row.guild_id == env.guild.id  # type: ignore[attr-defined]
    assert row.metadata["command"] == "ping"


async def test_repeat_offenders_are_blocked_even_after_a_restart(env: DiscordEnv) -> None:
    security_cog(env).limiter = CommandRateLimiter(
        limit=1, window_seconds=600, strikes_to_block=1, block_seconds=3600
    )
    await env.carol.slash("ping")
    blocked = await env.carol.slash("ping")
    assert "commands are blocked for you until <t:" in (blocked.content or ""), blocked.text
    row = await RateLimitViolation.get(subject=f"user:{env.carol.id}")
    assert row.blocked and row.blocked_until is not None

    await env.restart_bot()  # the default limiter, with the block restored from the database
    still = await env.carol.slash("ping")
    assert "blocked for you" in (still.content or "")
    assert "Pong" in ((await env.alice.slash("ping")).content or "")


# ------------------------------------------------------------------------------ API keys


async def test_an_admin_creates_lists_uses_and_revokes_a_key(env: DiscordEnv) -> None:
    created = await env.owner.slash(
        "apikey create", name="dashboard", scopes="economy:read levels:read", expires_in="30d"
    )
    assert created.ephemeral
    match = SECRET.search(created.content or "")
    assert match, created.text
    secret = match.group(0)
    assert "it will not be shown again" in (created.content or "")

    key = await ApiKey.get(name="dashboard")
    assert key.key_hash == service.hash_secret(secret) and key.key_prefix == secret[:12]
    assert key.guild_id == env.guild.id  # type: ignore[attr-defined]
    assert secret not in repr(await ApiKey.filter(id=key.id).values())
    used = await service.verify_api_key(secret, key.created_at)
    assert used.usage_count == 1

    listed = await env.owner.slash("apikey list")
    assert key.key_prefix in listed.text and secret not in listed.text
    assert "used 1×" in listed.text

    prompt = await env.owner.slash("apikey revoke", key=key.key_prefix)
    assert prompt.ephemeral and "cannot be undone" in (prompt.content or "")
    done = await env.owner.click(prompt, label="Revoke key")
    assert "Revoked the key" in (done.content or ""), done.text
    with pytest.raises(PermissionDenied):
        await service.verify_api_key(secret, key.created_at)


@pytest.mark.discord_env(owner_ids=["carol"])  # OWNER_IDS as an operator sets it
async def test_who_may_make_keys(env: DiscordEnv) -> None:
    refused = await env.alice.slash("apikey create", name="mine", scopes="read")
    assert refused.ephemeral and "Administrator" in (refused.content or "")
    bot_wide = await env.owner.slash("apikey create", name="all", scopes="all", bot_wide=True)
    assert "Only the bot's owners" in (bot_wide.content or "")
    # A bot owner (from OWNER_IDS) may, even without any role in this server.
    made = await env.carol.slash("apikey create", name="all", scopes="all", bot_wide=True)
    assert SECRET.search(made.content or ""), made.text
    key = await ApiKey.get(name="all")
    assert key.guild_id is None and key.scopes == list(service.API_SCOPES)  # type: ignore[attr-defined]
    bad = await env.owner.slash("apikey create", name="x", scopes="economy:steal")
    assert "`economy:steal` is not a scope" in (bad.content or "")


async def test_revoking_someone_elses_key_is_refused(env: DiscordEnv) -> None:
    await env.owner.slash("apikey create", name="owners", scopes="read")
    key = await ApiKey.get(name="owners")
    prompt = await env.alice.slash("apikey revoke", key=key.key_prefix)
    done = await env.alice.click(prompt, label="Revoke key")
    assert "There is no API key" in (done.content or ""), done.text
    assert (await ApiKey.get(id=key.id)).active


async def test_a_settings_change_is_audited_and_the_options_come_from_the_declaration(
    env: DiscordEnv,
) -> None:
    reply = await env.owner.slash("security set", anti_spam=True, max_mentions=4)

    assert reply.ephemeral and "Security settings saved" in (reply.content or ""), reply.text
    [entry] = await AuditLog.filter(action="security.set")
    assert entry.before == {
        "anti_spam_enabled": False,
        "max_mentions": 5,
        "security_enabled": False,
    }
    assert entry.after == {"anti_spam_enabled": True, "max_mentions": 4, "security_enabled": True}
    assert entry.actor_id == env.owner.id  # type: ignore[attr-defined]
    # The hot path's copy was forgotten: the new limit applies to the next message at once.
    await env.alice.say("general", " ".join(f"<@{env.bob.id}>" for _ in range(5)))
    await env.settle()
    assert await SecurityLog.filter(action="security.spam_mentions").count() == 1

    group = env.bot.tree.get_command("security")
    assert isinstance(group, app_commands.Group)
    command = group.get_command("set")
    assert isinstance(command, app_commands.Command)
    columns = {
        "enabled": "security_enabled",
        "anti_raid": "anti_raid_enabled",
        "anti_spam": "anti_spam_enabled",
        "alert_role": "security_alert_role_id",
    }
    declared = 0
    for parameter in command.parameters:
        column = columns.get(parameter.name, parameter.name)
        if column not in SECURITY:
            continue
        declared += 1
        assert parameter.description == SECURITY[column].help
        if SECURITY[column].minimum is not None:
            assert (parameter.min_value, parameter.max_value) == SECURITY.bounds(column)
    assert declared == len(SECURITY.settings)
