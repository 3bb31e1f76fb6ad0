"""Nobody gets a role through Pegasus that the person who set it up could not give themselves.

Every setting that makes the bot give a role later (level rewards, shop role items, automation
role steps, autoroles, ticket support roles) is checked when set up; the bot checks again, against
whoever set the role up, when it gives the role (or pings it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from models.economy import (
    EconomyBalance,
    EconomyShopItem,
    EconomyTransaction,
    TransactionType,
)
from models.guilds import GuildSettings
from models.levels import XpReward
from models.moderation import WarningAutomation
from models.security import RoleDelegation, SecurityLog
from models.tickets import TicketPanel
from pegasus.localdiscord import Permissions
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.state import FakeMember, FakeRole
from pegasus.services import levels
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.discord_env(
    extensions=(
        "cogs.core",
        "cogs.community",
        "cogs.levels",
        "cogs.economy",
        "cogs.moderation",
        "cogs.tickets",
    )
)


@dataclass
class Cast:
    """The demo guild with a member whose only power is Manage Server, and roles around him.

    Positions from the bottom: @everyone, Regular, Moderator (kick, ban, ...), Manager (Manage
    Server, held by `manager`), Admin (Administrator), Pegasus.
    """

    manager: FakeMember
    manager_role: FakeRole
    regular: FakeRole
    moderator: FakeRole
    admin: FakeRole


async def cast_of(env: DiscordEnv) -> Cast:
    manager_role = await env.guild.create_role(
        "Manager", permissions=Permissions.of("manage_guild"), position=2
    )
    regular = await env.guild.create_role("Regular", position=1)
    manager = await env.guild.add_member("manager", roles=[manager_role])
    await env.settle()
    return Cast(
        manager=manager,
        manager_role=manager_role,
        regular=regular,
        moderator=env.guild.role("Moderator"),
        admin=env.guild.role("Admin"),
    )


@pytest.fixture
async def cast(discord_env: DiscordEnv) -> Cast:
    return await cast_of(discord_env)


async def set_log_channel(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"))


def alerts(env: DiscordEnv) -> list[str]:
    return [
        message.text
        for message in env.channel("logs").bot_messages
        if message.embed and message.embed.get("title") == "Role not given"
    ]


async def refused_grants() -> list[SecurityLog]:
    return await SecurityLog.filter(action="role.grant_refused").all()


# ------------------------------------------------------------------------- setting a role up

SetUp = Callable[[DiscordEnv, FakeMember, FakeRole], Awaitable[object]]


async def reward_add(env: DiscordEnv, who: FakeMember, role: FakeRole) -> object:
    return await who.slash("levels reward-add", level=1, role=role)


async def shop_add(env: DiscordEnv, who: FakeMember, role: FakeRole) -> object:
    return await who.slash("shop-admin add", name=f"Pass {role.name}", price=5, type="role",
                           role=role)


async def shop_edit(env: DiscordEnv, who: FakeMember, role: FakeRole) -> object:
    # The item exists with a harmless role; the edit tries to make it grant `role`.
    plain = await env.guild.create_role("Plain", position=1)
    await env.settle()
    made = await env.owner.slash("shop-admin add", name="Pass", price=5, type="role", role=plain)
    assert "Grants" in made.text, made.text
    return await who.slash("shop-admin edit", item="Pass", role=role)


async def automation_add(env: DiscordEnv, who: FakeMember, role: FakeRole) -> object:
    return await who.slash("automation add", name="Badge", trigger="warn_count", value=1,
                           action="role", role=role, enabled=True)


async def autorole_add(env: DiscordEnv, who: FakeMember, role: FakeRole) -> object:
    return await who.slash("autorole add", role=role)


async def panel_create(env: DiscordEnv, who: FakeMember, role: FakeRole) -> object:
    return await who.slash("ticket-panel create", title="Help", description="Ask us",
                           support_role=role)


async def roles_set_up(env: DiscordEnv) -> set[int]:
    """Every role id some setting would make the bot give or ping."""
    guild_id = env.guild.id
    ids = set(await XpReward.filter(guild_id=guild_id).values_list("role_id", flat=True))
    for effect in await EconomyShopItem.filter(guild_id=guild_id).values_list("effect", flat=True):
        ids.add(int(effect.get("role_id") or 0))
    for actions in await WarningAutomation.filter(guild_id=guild_id).values_list(
        "actions", flat=True
    ):
        ids.update(int(step.get("role_id") or 0) for step in actions)
    settings = await GuildSettings.get(guild_id=guild_id)
    ids.update(int(role_id) for role_id in settings.autorole_role_ids or [])
    for role_ids in await TicketPanel.filter(guild_id=guild_id).values_list(
        "support_role_ids", flat=True
    ):
        ids.update(int(role_id) for role_id in role_ids or [])
    ids.discard(0)
    return ids


SETUPS = [reward_add, shop_add, shop_edit, automation_add, autorole_add, panel_create]


@pytest.mark.parametrize("set_up", SETUPS, ids=lambda f: f.__name__)
async def test_a_role_above_the_invoker_is_refused(
    discord_env: DiscordEnv, cast: Cast, set_up: SetUp
) -> None:
    env = discord_env
    reply = await set_up(env, cast.manager, cast.admin)
    assert reply.ephemeral, reply.text  # type: ignore[attr-defined]
    assert "not below your highest role" in reply.text, reply.text  # type: ignore[attr-defined]
    assert cast.admin.id not in await roles_set_up(env)
    assert not await RoleDelegation.filter(role_id=cast.admin.id).exists()


@pytest.mark.parametrize("set_up", SETUPS, ids=lambda f: f.__name__)
async def test_an_elevated_role_needs_the_owner_or_an_administrator(
    discord_env: DiscordEnv, cast: Cast, set_up: SetUp
) -> None:
    env = discord_env
    # Moderator is below the manager's role, but carries Ban, Kick, Timeout and Manage Messages.
    reply = await set_up(env, cast.manager, cast.moderator)
    assert reply.ephemeral, reply.text  # type: ignore[attr-defined]
    text = reply.text  # type: ignore[attr-defined]
    assert "only the server owner or a member with Administrator" in text, text
    assert "Ban Members" in text, text
    assert cast.moderator.id not in await roles_set_up(env)


@pytest.mark.parametrize("set_up", SETUPS, ids=lambda f: f.__name__)
async def test_a_plain_role_below_the_invoker_is_accepted_and_remembered(
    discord_env: DiscordEnv, cast: Cast, set_up: SetUp
) -> None:
    env = discord_env
    reply = await set_up(env, cast.manager, cast.regular)
    text = reply.text  # type: ignore[attr-defined]
    assert "not below" not in text and "only the server owner" not in text, text
    assert cast.regular.id in await roles_set_up(env)
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=cast.regular.id)
    assert delegation.configured_by_id == cast.manager.id  # type: ignore[attr-defined]


@pytest.mark.parametrize("set_up", SETUPS, ids=lambda f: f.__name__)
async def test_an_administrator_may_set_up_an_elevated_role_below_them(
    discord_env: DiscordEnv, cast: Cast, set_up: SetUp
) -> None:
    env = discord_env
    admin = await env.guild.add_member("head", roles=[cast.admin])
    await env.settle()
    await set_up(env, admin, cast.moderator)
    assert cast.moderator.id in await roles_set_up(env)


async def test_the_reported_exploit_gives_nothing(discord_env: DiscordEnv, cast: Cast) -> None:
    """Manage Server alone: make Admin a level 1 reward, then give oneself the XP."""
    env = discord_env
    refused = await cast.manager.slash("levels reward-add", level=1, role=cast.admin)
    assert "not below your highest role" in refused.text, refused.text
    await cast.manager.slash("xp add", member=cast.manager, amount=200)
    await env.settle()
    assert not cast.manager.has_role(cast.admin)
    assert not await XpReward.filter(guild_id=env.guild.id).exists()


# ------------------------------------------------------------------------- giving it later


async def test_a_reward_that_gained_administrator_is_not_given(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    await set_log_channel(env)
    await env.owner.slash("levels reward-add", level=1, role=cast.regular)
    await env.owner.slash("xp add", member=env.bob, amount=200)
    await env.settle()
    assert env.bob.has_role(cast.regular)  # given while it was a plain role

    await env.guild.set_role_permissions(cast.regular, ["administrator"])
    await env.settle()
    await env.owner.slash("xp add", member=env.alice, amount=200)
    await env.settle()

    assert not env.alice.has_role(cast.regular)
    [row] = await refused_grants()
    assert row.user_id == env.alice.id  # type: ignore[attr-defined]
    assert row.metadata["role_id"] == cast.regular.id
    assert row.metadata["configured_by"] == env.owner.id
    assert "Administrator" in row.description
    [alert] = alerts(env)
    assert env.alice.mention in alert and cast.regular.mention in alert
    assert "level 1 reward" in alert and "Administrator" in alert


async def test_a_reward_that_rose_above_its_configurer_is_not_given(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    await set_log_channel(env)
    done = await cast.manager.slash("levels reward-add", level=1, role=cast.regular)
    assert "now get" in done.text, done.text
    await env.owner.slash("xp add", member=env.bob, amount=200)
    await env.settle()
    assert env.bob.has_role(cast.regular)

    # The role moves above the manager's own role: he could no longer give it himself.
    cast.regular.position = cast.manager_role.position + 1
    env.server.events.role_update(cast.regular)
    await env.settle()
    await env.owner.slash("xp add", member=env.alice, amount=200)
    await env.settle()

    assert not env.alice.has_role(cast.regular)
    [row] = await refused_grants()
    assert "no longer below the highest role" in row.description
    assert len(alerts(env)) == 1


async def test_a_reward_whose_configurer_lost_administrator_is_not_given(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    head = await env.guild.add_member("head", roles=[cast.admin])
    await env.settle()
    await head.slash("levels reward-add", level=1, role=cast.moderator)
    await env.guild.remove_role(head, cast.admin)
    await env.guild.add_role(head, cast.manager_role)
    await env.settle()
    await env.owner.slash("xp add", member=env.alice, amount=200)
    await env.settle()
    assert not env.alice.has_role(cast.moderator)
    [row] = await refused_grants()
    assert "no longer the server owner or an Administrator" in row.description


async def test_an_elevated_reward_nobody_vouched_for_is_not_given(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    """A reward stored before configurers were recorded: plain roles still work, elevated not."""
    env = discord_env
    await levels.add_reward(env.guild.id, 1, cast.regular.id)
    await levels.add_reward(env.guild.id, 1, cast.moderator.id)
    await env.bot.get_cog("Levels").activity.settings_changed(env.guild.id)
    await env.owner.slash("xp add", member=env.alice, amount=200)
    await env.settle()
    assert env.alice.has_role(cast.regular)
    assert not env.alice.has_role(cast.moderator)
    [row] = await refused_grants()
    assert row.metadata["configured_by"] is None and "nobody set it up" in row.description


async def test_the_owner_may_have_the_bot_give_an_admin_role(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    await env.owner.slash("levels reward-add", level=1, role=cast.admin)
    await env.owner.slash("xp add", member=env.alice, amount=200)
    await env.settle()
    assert env.alice.has_role(cast.admin)
    assert not await refused_grants()


async def test_a_shop_role_that_became_elevated_is_not_sold(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    await set_log_channel(env)
    await cast.manager.slash("shop-admin add", name="Regular pass", price=5, type="role",
                             role=cast.regular)
    await env.guild.set_role_permissions(cast.regular, ["kick_members"])
    await env.settle()
    refused = await env.alice.slash("buy", item="Regular pass")
    assert refused.ephemeral and "nothing was charged" in refused.text, refused.text
    balance = await EconomyBalance.get_or_none(guild_id=env.guild.id, user_id=env.alice.id)
    assert balance is None or (balance.wallet, balance.bank) == (100, 0)
    bought = EconomyTransaction.filter(guild_id=env.guild.id, type=TransactionType.SHOP_BUY)
    assert not await bought.exists()
    assert not env.alice.has_role(cast.regular)
    [row] = await refused_grants()
    assert "Kick Members" in row.description and row.metadata["purpose"] == "shop item Regular pass"
    assert len(alerts(env)) == 1


async def test_an_automation_role_that_became_elevated_is_not_given(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    await set_log_channel(env)
    added = await cast.manager.slash("automation add", name="Badge", trigger="warn_count",
                                     value=1, action="role", role=cast.regular, enabled=True)
    assert "created" in added.text, added.text
    await env.guild.set_role_permissions(cast.regular, ["manage_roles"])
    await env.settle()
    await env.mod.slash("warn", member=env.alice, title="Spam")
    # Automations run from the scheduler, in the background.
    await eventually(lambda: SecurityLog.exists(action="role.grant_refused"), "the refusal")
    await env.settle()
    assert not env.alice.has_role(cast.regular)
    [row] = await refused_grants()
    assert "Manage Roles" in row.description and row.metadata["purpose"].startswith("automation")


async def test_an_autorole_that_became_elevated_is_not_given(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    await set_log_channel(env)
    await cast.manager.slash("autorole add", role=cast.regular)
    newcomer = await env.guild.add_member("first")
    await env.settle()
    assert newcomer.has_role(cast.regular)
    await env.guild.set_role_permissions(cast.regular, ["manage_channels"])
    await env.settle()
    late = await env.guild.add_member("second")
    await env.settle()
    assert not late.has_role(cast.regular)
    [row] = await refused_grants()
    assert row.user_id == late.id and row.metadata["purpose"] == "autorole"  # type: ignore[attr-defined]


async def test_an_elevated_mute_role_is_not_given(discord_env: DiscordEnv, cast: Cast) -> None:
    """Anyone who can rename a role to "Muted" chooses the mute role: it must stay harmless."""
    env = discord_env
    await env.guild.create_role("Muted", permissions=Permissions.of("ban_members"), position=1)
    await env.settle()
    reply = await env.mod.slash("mute", member=env.alice, reason="spam")
    assert reply.ephemeral and "mute role" in reply.text, reply.text
    assert not env.alice.has_role("Muted")
    [row] = await refused_grants()
    assert row.metadata["purpose"] == "mute"


# ------------------------------------------------------------------------- pinging it


async def open_ticket(env: DiscordEnv, panel_owner: FakeMember, role: FakeRole) -> dict:
    created = await panel_owner.slash("ticket-panel create", title="Help", description="Ask us",
                                      support_role=role)
    panel_id = created.text.split("`")[1]
    await panel_owner.slash("ticket-panel button", panel=panel_id, label="Help")
    await panel_owner.slash("ticket-panel send", panel=panel_id)
    panel = next(m for m in env.channel("general").bot_messages if m.buttons)
    form = await env.alice.click(panel, label="Help")
    await env.alice.submit_modal(form, {"reason": "Where is my order?"})
    await env.settle()
    channel = next(c for c in env.guild.channels if c.name.startswith("ticket-"))
    [welcome] = channel.bot_messages
    assert role.mention in welcome.text  # the role is named either way
    return welcome.allowed_mentions or {}


async def test_a_closed_support_role_is_not_pinged_for_a_configurer_who_could_not(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    mentions = await open_ticket(discord_env, cast.manager, cast.regular)
    assert [int(r) for r in mentions.get("roles", [])] == []


async def test_a_closed_support_role_is_pinged_for_a_configurer_who_could(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    await discord_env.guild.set_role_permissions(
        cast.manager_role, ["manage_guild", "mention_everyone"]
    )
    mentions = await open_ticket(discord_env, cast.manager, cast.regular)
    assert [int(r) for r in mentions.get("roles", [])] == [cast.regular.id]


async def test_a_mentionable_support_role_is_pinged(discord_env: DiscordEnv) -> None:
    env = discord_env
    cast = await cast_of(env)
    staff = await env.guild.create_role("Staff", position=1, mentionable=True)
    await env.settle()
    mentions = await open_ticket(env, cast.manager, staff)
    assert [int(r) for r in mentions.get("roles", [])] == [staff.id]
