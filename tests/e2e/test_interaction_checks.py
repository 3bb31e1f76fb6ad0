"""Modals and ephemeral views run the same interaction checks (blacklist, rate limit) as slash
commands and persistent buttons: a member blacklisted after a form or a prompt was opened is
refused when they submit or click, and nothing happens."""

from __future__ import annotations

import pytest

from models.moderation import CaseType, ModCase
from models.tickets import Ticket
from pegasus.localdiscord.env import DiscordEnv
from tests.e2e.test_tickets import make_panel, panel_message

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.tickets", "cogs.moderation"))

BLACKLISTED = "You are blacklisted from using this bot in this server: abusing the bot."


async def blacklist(env: DiscordEnv, member_mention: str) -> None:
    added = await env.owner.slash(
        "blacklist add", kind="user", target=member_mention, reason="abusing the bot"
    )
    assert "is blacklisted in this server" in (added.content or ""), added.content


async def test_a_member_blacklisted_while_filling_a_modal_is_refused_on_submit(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await make_panel(env)
    form = await env.alice.click(panel_message(env), label="Help")
    assert form.kind == "modal"
    await blacklist(env, env.alice.mention)

    submitted = await env.alice.submit_modal(form, {"reason": "let me in"})
    await env.settle()

    assert submitted.ephemeral and submitted.content == BLACKLISTED
    assert await Ticket.all().count() == 0
    assert env.guild.find_channel("ticket-0001") is None


async def test_a_member_blacklisted_before_confirming_is_refused_on_the_click(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    general = env.channel("general")
    await env.alice.say(general, "keep me")
    await env.settle()
    prompt = await env.mod.slash("purge", count=1)
    await blacklist(env, env.mod.mention)

    clicked = await env.mod.click(prompt, label="Delete")
    await env.settle()

    assert clicked.ephemeral and clicked.content == BLACKLISTED
    assert [m.content for m in general.messages] == ["keep me"]
    assert not await ModCase.filter(type=CaseType.PURGE).exists()
