"""Every staff command checks the member's permissions when it runs.

`default_member_permissions` only decides whom Discord shows a command to, and a server admin can
change that in Server Settings → Integrations. So with every command opened to @everyone there,
a member without the permission must still be refused, by the bot, with nothing changed. The
commands come from the tree the bot synced, so a command added later is covered without a list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tortoise import Tortoise

from models.economy import EconomyBalance, EconomyTransaction, TransactionType
from models.moderation import MemberWarning
from pegasus.bot import EXTENSIONS
from pegasus.localdiscord import CommandUnavailable, File, Permissions
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.state import FakeMember, FakeMessage

pytestmark = pytest.mark.discord_env(extensions=EXTENSIONS)

SLASH, USER_MENU, MESSAGE_MENU = 1, 2, 3
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
TEXT_CHANNEL, VOICE_CHANNEL, CATEGORY = 0, 2, 4
PLAIN_MEMBERS, COMMANDS_PER_MEMBER = 40, 4

# What Discord's client calls each permission (the refusal uses the same words).
DISCORD_NAMES = {
    "administrator": "Administrator",
    "manage_guild": "Manage Server",
    "manage_channels": "Manage Channels",
    "manage_roles": "Manage Roles",
    "manage_permissions": "Manage Roles",  # discord.py's alias of the same bit
    "manage_messages": "Manage Messages",
    "kick_members": "Kick Members",
    "ban_members": "Ban Members",
    "moderate_members": "Timeout Members",
}


@dataclass(frozen=True)
class StaffCommand:
    """One invocable command (a subcommand, a command without subcommands, or a context menu)
    whose top-level command has default_member_permissions."""

    name: str
    type: int
    required: int
    options: tuple[dict[str, Any], ...] = ()

    @property
    def top(self) -> str:
        return self.name.split()[0] if self.type == SLASH else self.name

    @property
    def shown(self) -> str:
        return f"/{self.name}" if self.type == SLASH else f"the {self.name} app"


def invocable(prefix: str, options: list[dict[str, Any]]) -> Iterator[tuple[str, list[dict]]]:
    """Every leaf under a synced command: subcommands, subcommands of groups, or itself."""
    nested = [o for o in options if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if not nested:
        yield prefix, options
    for option in nested:
        yield from invocable(f"{prefix} {option['name']}", option.get("options", []))


def staff_commands(env: DiscordEnv) -> list[StaffCommand]:
    synced = [*env.server.global_commands_by_name.values()]
    synced += env.server.guild_commands_by_id.get(env.guild.id, {}).values()
    found = []
    for spec in synced:
        required = spec.get("default_member_permissions")
        if required is None:
            continue
        kind = spec.get("type", SLASH)
        if kind != SLASH:
            found.append(StaffCommand(spec["name"], kind, int(required)))
            continue
        for name, options in invocable(spec["name"], spec.get("options", [])):
            found.append(StaffCommand(name, kind, int(required), tuple(options)))
    return sorted(found, key=lambda c: c.name)


def option_value(env: DiscordEnv, option: dict[str, Any]) -> Any:
    """A value Discord's client would accept for a required option."""
    kind = option["type"]
    if option.get("choices"):
        return option["choices"][0]["value"]
    if kind == STRING:
        return "1" * max(1, option.get("min_length") or 1)
    if kind in (INTEGER, NUMBER):
        return max(1, option.get("min_value") or 1)
    if kind == BOOLEAN:
        return True
    if kind in (USER, MENTIONABLE):
        return env.bob
    if kind == ROLE:
        return env.guild.role("Moderator")
    if kind == CHANNEL:
        types = option.get("channel_types") or [TEXT_CHANNEL]
        by_type = {
            TEXT_CHANNEL: env.channel("general"),
            VOICE_CHANNEL: env.guild.voice_channels[0],
            CATEGORY: env.guild.categories[0],
        }
        return next(by_type[t] for t in types if t in by_type)
    if kind == ATTACHMENT:
        return File("proof.png", b"\x89PNG fake", content_type="image/png")
    raise AssertionError(f"no sample value for option type {kind} ({option['name']})")


def required_options(env: DiscordEnv, command: StaffCommand) -> dict[str, Any]:
    return {o["name"]: option_value(env, o) for o in command.options if o.get("required")}


def expected_refusal(command: StaffCommand, held: Permissions) -> str:
    if command.required == 0:
        missing = ["administrator"]
    else:
        missing = sorted(n for n in Permissions(command.required).names if not held.has(n))
    unknown = [n for n in missing if n not in DISCORD_NAMES]
    assert not unknown, f"add Discord's name for {unknown} to DISCORD_NAMES"
    names = list(dict.fromkeys(DISCORD_NAMES[n] for n in missing))  # aliases name one bit
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    noun = "permission" if len(names) == 1 else "permissions"
    return f"You need the {listed} {noun} to use {command.shown}."


async def invoke(
    env: DiscordEnv,
    member: FakeMember,
    command: StaffCommand,
    target: FakeMessage,
    **options: Any,
) -> Any:
    if command.type == USER_MENU:
        return await member.user_command(command.name, env.bob)
    if command.type == MESSAGE_MENU:
        return await member.message_command(command.name, target)
    return await member.slash(command.name, **{**required_options(env, command), **options})


async def open_to_everyone(env: DiscordEnv, commands: list[StaffCommand]) -> None:
    """Server Settings → Integrations: @everyone may use each of these commands."""
    for top, kind in sorted({(c.top, c.type) for c in commands}):
        await env.guild.set_command_permissions(top, {env.guild.default_role: True}, type=kind)


async def database_rows() -> dict[str, list[dict[str, Any]]]:
    models = {name: model for app in Tortoise.apps.values() for name, model in app.items()}
    return {
        name: await model.all().order_by(model._meta.pk_attr).values()
        for name, model in sorted(models.items())
    }


def bot_requests_since(env: DiscordEnv, start: int) -> list[str]:
    """What the bot asked of Discord after `start`, except answering interactions."""
    return [
        f"{r.method} {r.path}"
        for r in env.server.requests[start:]
        if not r.path.startswith(("/interactions/", "/webhooks/"))
    ]


def plain_members(env: DiscordEnv) -> list[FakeMember]:
    """The extra members of the guild: @everyone's permissions and nothing else."""
    return [m for m in env.guild.members if m.name.startswith("member")]


# With context menus and an administrators-only command, shapes no feature uses yet.
@pytest.mark.discord_env(
    extensions=(*EXTENSIONS, "tests.e2e.staff_menu_cog"), members=PLAIN_MEMBERS
)
async def test_every_staff_command_refuses_a_member_without_its_permission(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    commands = staff_commands(env)
    names = {c.name for c in commands}
    assert {"economy give", "shop-admin add", "ticket-panel create", "staff-drill"} <= names
    assert {"Flag member", "Keep for staff"} <= names
    # A few commands per member, so the command rate limit never answers in the bot's place.
    callers = plain_members(env)
    assert len(commands) <= COMMANDS_PER_MEMBER * len(callers), "raise PLAIN_MEMBERS"
    target = await env.bob.say("general", "a message to act on")
    await env.settle()
    await env.bot.activity_buffer.flush()  # its XP is written now, not during the walk
    await open_to_everyone(env, commands)
    before = await database_rows()

    for index, command in enumerate(commands):
        member = callers[index // COMMANDS_PER_MEMBER]
        assert not member.roles, member.name
        held = env.channel("general").permissions_for(member)
        start = len(env.server.requests)
        reply = await invoke(env, member, command, target)
        await env.settle()
        assert reply.ephemeral, command.name
        assert reply.content == expected_refusal(command, held), command.name
        assert not bot_requests_since(env, start), (command.name, bot_requests_since(env, start))

    after = await database_rows()
    assert [name for name in before if before[name] != after[name]] == []


async def test_economy_give_to_oneself_without_permission_gives_nothing(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    with pytest.raises(CommandUnavailable):  # what Discord shows by default
        await env.alice.slash("economy give", member=env.alice, amount="1000000")
    await env.guild.set_command_permissions("economy", {env.guild.default_role: True})

    reply = await env.alice.slash("economy give", member=env.alice, amount="1000000")

    assert reply.ephemeral
    assert reply.content == "You need the Manage Server permission to use /economy give."
    await env.settle()
    assert not await EconomyBalance.filter(user_id=env.alice.id).exists()
    assert not await EconomyTransaction.exists()


async def test_a_member_with_the_permission_gets_through(discord_env: DiscordEnv) -> None:
    env = discord_env
    treasurer = await env.guild.create_role("Treasurer", permissions=["manage_guild"])
    dave = await env.guild.add_member("dave", roles=[treasurer])

    given = await dave.slash("economy give", member=env.bob, amount="250")
    warned = await env.mod.slash("warn", member=env.bob, title="Spamming")
    shown = await env.owner.slash("ticket-panel list")  # Administrator

    assert "Gave" in (given.content or "")
    [grant] = await EconomyTransaction.filter(user_id=env.bob.id, type=TransactionType.ADMIN)
    assert grant.amount == 250
    assert not warned.ephemeral and "was warned" in warned.text
    assert await MemberWarning.filter(user_id=env.bob.id).count() == 1
    assert "permission" not in (shown.content or "")


async def test_the_permission_is_the_members_in_that_channel(discord_env: DiscordEnv) -> None:
    env = discord_env
    general = env.channel("general")
    # Carol may manage messages in #cleanup only, through a member overwrite there.
    cleanup = await env.guild.create_text_channel(
        "cleanup", overwrites=[env.guild.overwrite_for(env.carol, allow=["manage_messages"])]
    )
    await env.guild.set_command_permissions("purge", {env.guild.default_role: True})
    await env.bob.say(general, "kept")
    await env.bob.say(cleanup, "spam")
    await env.settle()

    elsewhere = await env.carol.slash("purge", count=1, in_channel=general)
    prompt = await env.carol.slash("purge", count=1, in_channel=cleanup)
    await env.carol.click(prompt, label="Delete")
    await env.settle()

    assert elsewhere.ephemeral
    assert elsewhere.content == "You need the Manage Messages permission to use /purge."
    assert [m.content for m in general.messages] == ["kept"]
    assert "spam" not in [m.content for m in cleanup.messages]


async def test_a_staff_commands_autocomplete_shows_nothing_without_the_permission(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    created = await env.owner.slash("ticket-panel create", title="Support", description="Ask us")
    panel_id = created.text.split("`")[1]
    await env.guild.set_command_permissions("ticket-panel", {env.guild.default_role: True})

    staff_sees = await env.owner.autocomplete("ticket-panel button", "panel", "")
    alice_sees = await env.alice.autocomplete("ticket-panel button", "panel", "")

    assert [choice["value"] for choice in staff_sees] == [panel_id]
    assert alice_sees == []


async def test_integrations_overrides_decide_before_default_permissions(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    helpers = await env.guild.create_role("Helpers")
    await env.guild.add_role(env.carol, helpers)
    await env.guild.set_command_permissions(
        "economy", {env.guild.default_role: False, helpers: True, env.owner: False}
    )

    with pytest.raises(CommandUnavailable):  # @everyone is turned off
        await env.alice.slash("economy settings")
    shown = await env.carol.slash("economy settings")  # a role allows it; the bot still refuses
    assert shown.content == "You need the Manage Server permission to use /economy settings."
    owner = await env.owner.slash("economy settings")  # an admin cannot be locked out
    assert "Currency" in owner.text


async def test_a_timed_out_moderator_keeps_only_reading(discord_env: DiscordEnv) -> None:
    env = discord_env
    timed_out = await env.owner.slash("timeout", member=env.mod, duration="10m")
    assert env.mod.is_timed_out, timed_out.text
    await env.guild.set_command_permissions("warn", {env.guild.default_role: True})

    held = env.channel("general").permissions_for(env.mod)

    assert held == Permissions.of("view_channel", "read_message_history")
    with pytest.raises(CommandUnavailable):  # no Use Application Commands while timed out
        await env.mod.slash("warn", member=env.bob, title="Spamming")
    assert not await MemberWarning.exists()
