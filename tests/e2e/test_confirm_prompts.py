"""Confirmation prompts: a refusal that comes after the click answers the clicked button.

Between the prompt and the click the world can change (someone else deleted the thing, the bot
lost a permission, the database went away). The member then reads why on the prompt they
clicked, instead of "This interaction failed" and a stray message under the command.
"""

from __future__ import annotations

import re

import pytest

from models.levels import UserXP
from models.moderation import WarningAutomation
from models.tickets import Ticket, TicketStatus
from pegasus.errors import DATABASE_UNAVAILABLE
from pegasus.localdiscord import LocalDiscord, Permissions
from pegasus.localdiscord.env import DiscordEnv
from tests.e2e.test_database_faults import bot_behind_fault
from tests.e2e.test_tickets import make_panel, open_ticket

AUTOMATION_ID = re.compile(r"A-[0-9A-Z]{5}")
DISCORD_REFUSED = "Discord refused: I am missing a permission"


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.tickets"))
async def test_deleting_a_panel_deleted_meanwhile_answers_on_the_button(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    panel_id = await make_panel(env)
    first = await env.owner.slash("ticket-panel delete", panel=panel_id)
    second = await env.owner.slash("ticket-panel delete", panel=panel_id)
    deleted = await env.owner.click(second, label="Delete panel")
    assert "deleted" in (deleted.content or "")

    late = await env.owner.click(first, label="Delete panel")

    assert late.kind == "update" and late.ephemeral
    assert panel_id in (late.content or "") and "deleted" not in (late.content or "")
    assert late.components == []
    assert first.followups == []  # nothing stray under the command


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.tickets"))
async def test_closing_a_ticket_closed_meanwhile_answers_on_the_button(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    welcome = channel.bot_messages[0]
    first = await env.alice.click(welcome, label="Close")
    second = await env.alice.click(welcome, label="Close")
    # Without Manage Channels the closed ticket's channel stays, so the first prompt can still
    # be clicked.
    pegasus = env.guild.role("Pegasus")
    await env.guild.set_role_permissions(
        pegasus, Permissions(pegasus.permissions & ~Permissions.of("manage_channels"))
    )
    await env.settle()
    await env.alice.click(second, label="Close ticket")
    await env.settle()
    assert (await Ticket.get(number=1)).status is TicketStatus.CLOSED
    assert not channel.deleted

    late = await env.alice.click(first, label="Close ticket")
    refusal = await late.next_followup()

    assert refusal.ephemeral, refusal.content
    assert refusal.content.startswith("Ticket #0001 is") and "closed" in refusal.content
    assert first.followups == []


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))
async def test_purging_after_losing_manage_messages_answers_on_the_button(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    general = env.channel("general")
    for i in range(3):
        await env.alice.say(general, f"spam {i}")
    await env.settle()
    prompt = await env.mod.slash("purge", count=3)
    pegasus = env.guild.role("Pegasus")
    await env.guild.set_role_permissions(
        pegasus, Permissions(pegasus.permissions & ~Permissions.of("manage_messages"))
    )
    await env.settle()

    await env.mod.click(prompt, label="Delete")
    await env.settle()

    assert prompt.message is not None
    assert prompt.message.content.startswith(DISCORD_REFUSED), prompt.message.content
    assert prompt.message.components == []
    assert prompt.followups == []
    assert [m.content for m in general.messages] == ["spam 0", "spam 1", "spam 2"]


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))
async def test_removing_an_automation_removed_meanwhile_answers_on_the_button(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    created = await env.owner.slash(
        "automation add", name="Two strikes", trigger="warn_count", value=2, action="kick"
    )
    automation_id = AUTOMATION_ID.search(created.content or "").group(0)  # type: ignore[union-attr]
    first = await env.owner.slash("automation remove", id=automation_id)
    second = await env.owner.slash("automation remove", id=automation_id)
    removed = await env.owner.click(second, label="Delete")
    assert "deleted" in (removed.content or "")

    late = await env.owner.click(first, label="Delete")

    assert late.kind == "update" and late.ephemeral
    assert automation_id in (late.content or "") and "deleted" not in (late.content or "")
    assert first.followups == []
    assert not await WarningAutomation.exists(automation_id=automation_id)


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))
async def test_resetting_xp_with_the_database_gone_answers_on_the_button(
    local_discord: LocalDiscord, db_url: str, request: pytest.FixtureRequest
) -> None:
    async with bot_behind_fault(local_discord, db_url, request, sqlite_busy=200) as outage:
        env = outage.env
        await env.owner.slash("xp set", member=env.alice, amount=500)
        prompt = await env.owner.slash("xp reset", member=env.alice)
        await outage.refuse()

        late = await env.owner.click(prompt, label="Reset XP")

        assert late.kind == "update" and late.content == DATABASE_UNAVAILABLE
        assert prompt.followups == []
        await outage.restore()
        stored = await UserXP.get(guild_id=env.guild.id, user_id=env.alice.id)
        assert stored.xp == 500
