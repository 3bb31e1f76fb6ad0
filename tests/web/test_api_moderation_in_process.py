"""Moderation over the API the bot itself serves: the key's owner is held to the hierarchy of
`/reason`, `/warning remove` and `/blacklist add` as the bot's cache sees them, with the
commands' sentences (members named in plain words), and nothing changes on a refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from models.moderation import CaseType, MemberWarning, ModCase, WarningAutomation
from models.security import AuditLog, AuditSource, Blacklist, RoleDelegation
from pegasus.localdiscord import FakeMember
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import moderation
from pegasus.services.durations import MAX_SECONDS, format_duration
from pegasus.services.security import API_SCOPES, create_api_key
from pegasus.web import WebConfig, WebServer, create_app
from tests.web.conftest import SECRET

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))

MODERATOR_PERMISSIONS = ["kick_members", "ban_members", "moderate_members", "manage_messages"]


@dataclass
class BotApi:
    env: DiscordEnv
    session: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"/api/v1/guilds/{self.env.guild.id}"

    async def call(
        self, who: FakeMember, method: str, path: str, json: Any = None
    ) -> tuple[int, Any]:
        created = await create_api_key(
            owner_id=who.id,
            name=f"key of {who.name}",
            scopes=list(API_SCOPES),
            guild_id=self.env.guild.id,
            now=datetime.now(UTC),
            is_bot_owner=False,
            is_guild_admin=True,
        )
        headers = {"Authorization": f"Bearer {created.secret}"}
        async with self.session.request(
            method, self.base + path, json=json, headers=headers
        ) as answer:
            return answer.status, await answer.json(content_type=None)


@pytest.fixture
async def bot_api(discord_env: DiscordEnv) -> AsyncIterator[BotApi]:
    server = WebServer(create_app(WebConfig(secret=SECRET), bot=discord_env.bot), "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession(base_url=server.url) as session:
            yield BotApi(discord_env, session)
    finally:
        await server.stop()


async def case_by(env: DiscordEnv, moderator: FakeMember, member: FakeMember, reason: str) -> int:
    case = await moderation.record_action(
        guild_id=env.guild.id,
        case_type=CaseType.KICK,
        user_id=member.id,
        moderator_id=moderator.id,
        reason=reason,
        now=datetime.now(UTC),
    )
    return case.case_number


async def warning_by(env: DiscordEnv, moderator: FakeMember, member: FakeMember) -> str:
    issued = await moderation.issue_warning(
        guild_id=env.guild.id,
        user_id=member.id,
        moderator_id=moderator.id,
        title="Spam",
        now=datetime.now(UTC),
    )
    return issued.warning.warn_id


async def test_a_case_reason_follows_the_hierarchy_of_reason(bot_api: BotApi) -> None:
    env = bot_api.env
    senior_role = await env.guild.create_role(
        "Senior", permissions=MODERATOR_PERMISSIONS, position=2
    )
    senior = await env.guild.add_member("senior", roles=[senior_role])
    await env.settle()
    about_mod = await case_by(env, env.owner, env.mod, "Too harsh")
    by_owner = await case_by(env, env.owner, env.alice, "Spam")
    about_senior = await case_by(env, env.owner, senior, "Late")
    command = await env.mod.slash("reason", case_number=about_senior, reason="x")

    refusals = {
        about_mod: "You can't change the reason of a case about yourself.",
        by_owner: "You can't change the reason of a case by the server owner without Manage "
        "Server.",
        about_senior: f"You can't change the reason of a case about user {senior.id}: their "
        "highest role is not below yours.",
    }
    for number, sentence in refusals.items():
        status, refused = await bot_api.call(
            env.mod, "PATCH", f"/cases/{number}", json={"reason": "changed"}
        )
        assert (status, refused["detail"]) == (403, sentence)
    assert command.content == refusals[about_senior].replace(f"user {senior.id}", senior.mention)
    reasons = await ModCase.filter(case_number__in=list(refusals)).values_list("reason", flat=True)
    assert sorted(reasons) == ["Late", "Spam", "Too harsh"]
    assert not await AuditLog.filter(action="case.reason").exists()

    await env.owner.slash("modlog", channel=env.channel("logs"))
    posted = await env.mod.slash("kick", member=env.bob, reason="Rude")
    assert "kicked" in (posted.content or posted.text), posted.text
    by_mod = await ModCase.filter(guild_id=env.guild.id).order_by("-case_number").first()
    assert by_mod is not None and by_mod.modlog_message_id is not None

    status, changed = await bot_api.call(
        env.mod, "PATCH", f"/cases/{by_mod.case_number}", json={"reason": "Very rude"}
    )
    assert status == 200, changed
    assert (changed["reason"], changed["reason_edited_by_id"]) == ("Very rude", env.mod.id)
    audit = await AuditLog.get(action="case.reason")
    assert audit.source is AuditSource.API and audit.actor_id == env.mod.id  # type: ignore[attr-defined]
    assert (audit.before, audit.after) == ({"reason": "Rude"}, {"reason": "Very rude"})
    await env.settle()
    post = next(m for m in env.channel("logs").bot_messages if m.id == by_mod.modlog_message_id)
    assert "Very rude" in post.text and post.edits


async def test_a_warning_is_removed_only_by_whom_the_command_allows(bot_api: BotApi) -> None:
    env = bot_api.env
    owners = await warning_by(env, env.owner, env.alice)
    mods = await warning_by(env, env.mod, env.bob)

    status, refused = await bot_api.call(env.mod, "DELETE", f"/warnings/{owners}")
    assert status == 403
    assert refused["detail"] == (
        "You can't remove a warning by the server owner without Manage Server."
    )
    assert (await MemberWarning.get(warn_id=owners)).active

    status, removed = await bot_api.call(env.mod, "DELETE", f"/warnings/{mods}?reason=mistake")
    assert status == 200, removed
    assert (removed["active"], removed["removed_reason"]) == (False, "mistake")
    stored = await MemberWarning.get(warn_id=mods)
    assert not stored.active and stored.removed_by_id == env.mod.id  # type: ignore[attr-defined]
    audit = await AuditLog.get(action="api.remove_warning")
    assert audit.source is AuditSource.API and audit.actor_id == env.mod.id  # type: ignore[attr-defined]


async def test_the_blacklist_spares_whom_the_command_spares_and_the_bot_sees_it_at_once(
    bot_api: BotApi,
) -> None:
    env = bot_api.env
    refusals = [
        ({"kind": "user", "entity_id": env.owner.id}, 403,
         "The server owner and admins can't be blacklisted in their own server."),
        ({"kind": "user", "entity_id": env.mod.id}, 422,
         "That would lock out yourself or me; pick someone else."),
        ({"kind": "user", "entity_id": env.bot_member.id}, 422,
         "That would lock out yourself or me; pick someone else."),
        ({"kind": "role", "entity_id": 123_456_789}, 404, "There is no such role in this server."),
        ({"kind": "role", "entity_id": env.guild.id}, 422,
         "Blacklisting @everyone would block everybody."),
        ({"kind": "channel", "entity_id": 123_456_789}, 404,
         "There is no such channel in this server."),
        ({"kind": "user", "entity_id": env.alice.id, "duration_seconds": 10**12}, 422,
         f"The duration can be at most {format_duration(MAX_SECONDS)}."),
    ]
    for body, expected, sentence in refusals:
        status, refused = await bot_api.call(
            env.mod, "POST", "/blacklist", json={**body, "reason": "no"}
        )
        assert (status, refused["detail"]) == (expected, sentence), body
    assert not await Blacklist.all().exists()

    status, added = await bot_api.call(
        env.mod, "POST", "/blacklist", json={"kind": "user", "entity_id": env.alice.id,
                                             "reason": "spam"}
    )
    assert status == 201, added
    assert (added["entity_id"], added["guild_id"], added["active"]) == (
        env.alice.id, env.guild.id, True
    )
    hit = env.bot.blacklist.match(
        now=datetime.now(UTC), guild_id=env.guild.id, user_id=env.alice.id
    )
    assert hit is not None and hit.reason == "spam"
    audit = await AuditLog.get(action="blacklist.add")
    assert audit.source is AuditSource.API and audit.actor_id == env.mod.id  # type: ignore[attr-defined]
    reply = await env.alice.slash("ping")
    assert reply.content == "You are blacklisted from using this bot in this server: spam."


async def test_an_automation_reports_where_the_bot_can_post(bot_api: BotApi) -> None:
    env = bot_api.env
    rule = {
        "name": "Strikes", "trigger_type": "warn_count", "trigger_value": 3,
        "actions": [{"type": "kick"}],
    }
    status, refused = await bot_api.call(
        env.owner, "POST", "/automations", json={**rule, "notify_channel_id": 123_456_789}
    )
    assert status == 422
    assert refused["detail"] == "There is no text channel with that id in this server."
    assert not await WarningAutomation.all().exists()

    general = env.channel("general").id
    status, created = await bot_api.call(
        env.owner, "POST", "/automations", json={**rule, "notify_channel_id": general}
    )
    assert status == 201, created
    assert created["notify_channel_id"] == general
    status, overview = await bot_api.call(env.owner, "GET", "")
    assert status == 200 and overview["member_count"] == len(env.guild.members)


async def test_a_role_step_gives_only_a_role_the_key_owner_could_give(bot_api: BotApi) -> None:
    env = bot_api.env
    helper = await env.guild.create_role("Helper", position=1)
    moderator = env.guild.role("Moderator").position
    above = await env.guild.create_role("Trusted", position=moderator + 1)
    await env.settle()
    assert helper.position < moderator < above.position < env.bot_member.top_role.position
    rule = {
        "name": "Helpers", "trigger_type": "warn_count", "trigger_value": 2,
        "actions": [{"type": "role", "role_id": above.id}],
    }

    status, refused = await bot_api.call(env.mod, "POST", "/automations", json=rule)
    assert status == 403
    assert refused["detail"] == (
        f"role {above.id} is not below your highest role, so you can't have me give it."
    )
    assert not await WarningAutomation.all().exists()
    assert not await RoleDelegation.all().exists()

    given = {**rule, "actions": [{"type": "role", "role_id": helper.id}]}
    status, created = await bot_api.call(env.mod, "POST", "/automations", json=given)
    assert status == 201, created
    assert created["actions"] == [{"type": "role", "role_id": helper.id}]
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=helper.id)
    assert delegation.configured_by_id == env.mod.id  # type: ignore[attr-defined]
