"""Role menus end to end: staff set a menu up and send it, members click and choose their roles.

The demo guild gets a member with Manage Roles only (`manager`) and plain roles below him; the
bot gives and takes roles through the local Discord, and the roles members hold there are checked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from models.rolemenus import RoleMenu, RoleMenuOption
from models.security import RoleDelegation, SecurityLog
from pegasus.localdiscord import Permissions
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.interactions import Reply
from pegasus.localdiscord.permissions import Overwrite
from pegasus.localdiscord.state import FakeMember, FakeMessage, FakeRole

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.community", "cogs.role_menus")
)


@dataclass
class Cast:
    """Positions from the bottom: @everyone, Red, Blue, News, Events, Verified, Moderator,
    Manager (Manage Roles, held by `manager`), Admin, Pegasus."""

    manager: FakeMember
    red: FakeRole
    blue: FakeRole
    news: FakeRole
    events: FakeRole
    verified: FakeRole


@pytest.fixture
async def cast(discord_env: DiscordEnv) -> Cast:
    env = discord_env
    manager_role = await env.guild.create_role(
        "Manager", permissions=Permissions.of("manage_roles"), position=2
    )
    made = {}
    for name in ("Verified", "Events", "News", "Blue", "Red"):
        made[name] = await env.guild.create_role(name, position=1)
    manager = await env.guild.add_member("manager", roles=[manager_role])
    await env.settle()
    return Cast(
        manager=manager,
        red=made["Red"],
        blue=made["Blue"],
        news=made["News"],
        events=made["Events"],
        verified=made["Verified"],
    )


def menu_id_of(reply: Reply) -> str:
    assert "created" in reply.text, reply.text
    return reply.text.split("`")[1]


async def create(who: FakeMember, title: str = "Pick roles", **options: object) -> str:
    return menu_id_of(await who.slash("rolemenu create", title=title, **options))


async def offer(who: FakeMember, menu: str, role: FakeRole, **options: object) -> Reply:
    return await who.slash("rolemenu add", menu=menu, role=role, **options)


async def send(env: DiscordEnv, who: FakeMember, menu: str) -> FakeMessage:
    reply = await who.slash("rolemenu send", menu=menu, channel=env.channel("general"))
    assert "posted" in reply.text, reply.text
    return env.channel("general").bot_messages[-1]


async def click(env: DiscordEnv, member: FakeMember, message: FakeMessage, label: str) -> Reply:
    reply = await member.click(message, label=label)
    await env.settle()
    assert reply.ephemeral, reply.text
    return reply


async def refused_grants() -> list[SecurityLog]:
    return await SecurityLog.filter(action="role.grant_refused").all()


# --------------------------------------------------------------------------- setting up and sending


async def test_a_member_takes_a_role_and_gives_it_back(discord_env: DiscordEnv, cast: Cast) -> None:
    env = discord_env
    menu = await create(cast.manager, description="Roles for everyone")
    for role in (cast.red, cast.news):
        added = await offer(cast.manager, menu, role)
        assert added.ephemeral and "now offers" in added.text, added.text
    message = await send(env, cast.manager, menu)

    assert [b["label"] for b in message.buttons] == ["Red", "News"]
    assert all(b["custom_id"].startswith("pegasus:rolemenu:toggle:") for b in message.buttons)
    row = await RoleMenu.get(menu_id=menu)
    assert (row.channel_id, row.message_id) == (env.channel("general").id, message.id)
    assert row.created_by_id == cast.manager.id  # type: ignore[attr-defined]
    assert await RoleMenuOption.filter(menu_id=row.id).count() == 2

    took = await click(env, env.alice, message, "News")
    assert "You now have" in took.text and cast.news.mention in took.text, took.text
    assert env.alice.has_role(cast.news) and not env.alice.has_role(cast.red)

    gave_back = await click(env, env.alice, message, "News")
    assert "taken back" in gave_back.text, gave_back.text
    assert not env.alice.has_role(cast.news)


async def test_at_most_max_roles_from_one_menu(discord_env: DiscordEnv, cast: Cast) -> None:
    env = discord_env
    menu = await create(cast.manager, max_roles=2)
    for role in (cast.red, cast.news, cast.events):
        await offer(cast.manager, menu, role)
    message = await send(env, cast.manager, menu)
    await click(env, env.alice, message, "Red")
    await click(env, env.alice, message, "News")
    refused = await click(env, env.alice, message, "Events")
    assert "at most 2 roles" in refused.text, refused.text
    assert env.alice.has_role(cast.red) and env.alice.has_role(cast.news)
    assert not env.alice.has_role(cast.events)
    # Giving one back makes room again.
    await click(env, env.alice, message, "Red")
    await click(env, env.alice, message, "Events")
    assert env.alice.has_role(cast.events) and not env.alice.has_role(cast.red)


async def test_an_exclusive_group_swaps_roles(discord_env: DiscordEnv, cast: Cast) -> None:
    env = discord_env
    menu = await create(cast.manager, title="Colours")
    await offer(cast.manager, menu, cast.red, group="colour", emoji="🟥")
    await offer(cast.manager, menu, cast.blue, group="Colour", emoji="🟦")
    await offer(cast.manager, menu, cast.news)
    message = await send(env, cast.manager, menu)
    assert "One role at a time of each group: colour." in message.text
    await click(env, env.bob, message, "Red")
    await click(env, env.bob, message, "News")
    swapped = await click(env, env.bob, message, "Blue")
    assert cast.red.mention in swapped.text and "taken back" in swapped.text, swapped.text
    assert env.bob.has_role(cast.blue) and env.bob.has_role(cast.news)
    assert not env.bob.has_role(cast.red)


async def test_the_required_role_is_needed(discord_env: DiscordEnv, cast: Cast) -> None:
    env = discord_env
    menu = await create(cast.manager, required_role=cast.verified)
    await offer(cast.manager, menu, cast.news)
    message = await send(env, cast.manager, menu)
    refused = await click(env, env.carol, message, "News")
    assert "You need" in refused.text and cast.verified.mention in refused.text, refused.text
    assert not env.carol.has_role(cast.news)

    await env.guild.add_role(env.carol, cast.verified)
    await env.settle()
    await click(env, env.carol, message, "News")
    assert env.carol.has_role(cast.news)


async def test_quick_clicks_keep_the_group_and_the_cap(discord_env: DiscordEnv, cast: Cast) -> None:
    """Clicks sent at once all carry the roles from before any was handled; the rules still
    hold when they are done."""
    env = discord_env
    colours = await create(cast.manager, title="Colours")
    for role in (cast.red, cast.blue):
        await offer(cast.manager, colours, role, group="colour")
    capped = await create(cast.manager, title="Capped", max_roles=1)
    for role in (cast.news, cast.events):
        await offer(cast.manager, capped, role)
    colour_menu = await send(env, cast.manager, colours)
    capped_menu = await send(env, cast.manager, capped)

    replies = await asyncio.gather(
        env.alice.click(colour_menu, label="Red"),
        env.alice.click(colour_menu, label="Blue"),
        env.alice.click(capped_menu, label="News"),
        env.alice.click(capped_menu, label="Events"),
    )
    await env.settle()
    assert all(reply.ephemeral for reply in replies)
    assert [env.alice.has_role(cast.red), env.alice.has_role(cast.blue)].count(True) == 1
    assert [env.alice.has_role(cast.news), env.alice.has_role(cast.events)].count(True) == 1
    assert sum("at most 1 role" in reply.text for reply in replies) == 1


# --------------------------------------------------------------------------- the role rules


async def test_a_role_above_the_creator_is_refused_at_setup(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    menu = await create(cast.manager)
    refused = await offer(cast.manager, menu, env.guild.role("Admin"))
    assert refused.ephemeral and "not below your highest role" in refused.text, refused.text
    assert not await RoleMenuOption.filter(role_id=env.guild.role("Admin").id).exists()
    assert not await RoleDelegation.filter(role_id=env.guild.role("Admin").id).exists()
    bot_role = await offer(cast.manager, menu, env.guild.role("Pegasus"))
    assert "above my highest role" in bot_role.text or "cannot be given" in bot_role.text


async def test_an_elevated_role_needs_the_owner(discord_env: DiscordEnv, cast: Cast) -> None:
    env = discord_env
    moderator = env.guild.role("Moderator")  # below the manager, with Ban, Kick, Timeout...
    menu = await create(cast.manager)
    refused = await offer(cast.manager, menu, moderator)
    text = refused.text
    assert "only the server owner or a member with Administrator" in text, text
    assert "Ban Members" in text, text
    assert not await RoleMenuOption.filter(role_id=moderator.id).exists()

    accepted = await offer(env.owner, menu, moderator)
    assert "now offers" in accepted.text, accepted.text
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=moderator.id)
    assert delegation.configured_by_id == env.owner.id  # type: ignore[attr-defined]
    message = await send(env, env.owner, menu)
    await click(env, env.alice, message, "Moderator")
    assert env.alice.has_role(moderator)
    assert not await refused_grants()


async def test_a_role_that_became_elevated_is_not_given(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    await env.owner.slash("logging set", channel=env.channel("logs"))
    menu = await create(cast.manager)
    await offer(cast.manager, menu, cast.news)
    message = await send(env, cast.manager, menu)
    await click(env, env.bob, message, "News")
    assert env.bob.has_role(cast.news)  # given while it was a plain role

    await env.guild.set_role_permissions(cast.news, ["kick_members"])
    await env.settle()
    refused = await click(env, env.alice, message, "News")
    assert "I can't give you" in refused.text and "Nothing was changed" in refused.text
    assert not env.alice.has_role(cast.news)
    [row] = await refused_grants()
    assert row.user_id == env.alice.id  # type: ignore[attr-defined]
    assert row.metadata["purpose"] == f"role menu {menu}"
    assert row.metadata["configured_by"] == cast.manager.id
    assert "Kick Members" in row.description
    alerts = [m for m in env.channel("logs").bot_messages if m.embed and
              m.embed.get("title") == "Role not given"]
    assert len(alerts) == 1 and env.alice.mention in alerts[0].text


async def test_a_role_raised_above_the_bot_after_setup_is_refused(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    menu = await create(cast.manager)
    await offer(cast.manager, menu, cast.red)
    await offer(cast.manager, menu, cast.news)
    message = await send(env, cast.manager, menu)
    await click(env, env.alice, message, "Red")
    cast.red.position = env.guild.role("Pegasus").position + 1
    env.server.events.role_update(cast.red)
    await env.settle()
    refused = await click(env, env.alice, message, "Red")  # giving it back needs the bot too
    assert "not below my highest role" in refused.text, refused.text
    assert env.alice.has_role(cast.red)
    refused = await click(env, env.bob, message, "Red")
    assert "I can't give you" in refused.text, refused.text
    assert not env.bob.has_role(cast.red)


# --------------------------------------------------------------------------- persistence, variants


async def test_the_menu_works_after_a_restart(discord_env: DiscordEnv, cast: Cast) -> None:
    env = discord_env
    buttons = await create(cast.manager, title="Buttons")
    await offer(cast.manager, buttons, cast.news)
    button_message = await send(env, cast.manager, buttons)
    select = await create(cast.manager, title="Select", style="select")
    await offer(cast.manager, select, cast.events)
    select_message = await send(env, cast.manager, select)

    await env.restart_bot()

    await click(env, env.alice, button_message, "News")
    assert env.alice.has_role(cast.news)
    chose = await env.alice.select(select_message, values=[str(cast.events.id)])
    await env.settle()
    assert chose.ephemeral and "You now have" in chose.text, chose.text
    assert env.alice.has_role(cast.events)


async def test_the_select_menu_sets_the_members_roles_of_the_menu(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    menu = await create(cast.manager, style="select", max_roles=2)
    await offer(cast.manager, menu, cast.red, group="colour", description="A warm colour")
    await offer(cast.manager, menu, cast.blue, group="colour")
    await offer(cast.manager, menu, cast.news)
    message = await send(env, cast.manager, menu)
    [select] = message.selects
    assert select["custom_id"].startswith("pegasus:rolemenu:choose:")
    assert (select["min_values"], select["max_values"]) == (0, 2)
    assert [o["label"] for o in select["options"]] == ["Red", "Blue", "News"]
    assert select["options"][0]["description"] == "A warm colour"

    async def choose(*roles: FakeRole) -> Reply:
        reply = await env.alice.select(message, values=[str(r.id) for r in roles])
        await env.settle()
        assert reply.ephemeral, reply.text
        return reply

    await choose(cast.red, cast.news)
    assert env.alice.has_role(cast.red) and env.alice.has_role(cast.news)
    await choose(cast.blue)
    assert env.alice.has_role(cast.blue)
    assert not env.alice.has_role(cast.red) and not env.alice.has_role(cast.news)
    refused = await choose(cast.red, cast.blue)
    assert "only one of them" in refused.text, refused.text
    assert env.alice.has_role(cast.blue) and not env.alice.has_role(cast.red)
    await choose()
    assert not env.alice.has_role(cast.blue)


async def test_editing_a_sent_menu_updates_its_message(discord_env: DiscordEnv, cast: Cast) -> None:
    env = discord_env
    menu = await create(cast.manager, title="Old title")
    await offer(cast.manager, menu, cast.red)
    await offer(cast.manager, menu, cast.news)
    message = await send(env, cast.manager, menu)

    edited = await cast.manager.slash("rolemenu edit", menu=menu, title="New title",
                                      style="select")
    assert "updated" in edited.text, edited.text
    assert message.embed is not None and message.embed["title"] == "New title"
    assert not message.buttons and len(message.selects) == 1

    removed = await cast.manager.slash("rolemenu remove", menu=menu, role=cast.red)
    assert "no longer offers" in removed.text, removed.text
    assert [o["label"] for o in message.selects[0]["options"]] == ["News"]
    await env.alice.select(message, values=[str(cast.news.id)])
    await env.settle()
    assert env.alice.has_role(cast.news)


async def test_a_role_deleted_in_discord_leaves_the_menus(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    menu = await create(cast.manager, required_role=cast.verified)
    await offer(cast.manager, menu, cast.red)
    await offer(cast.manager, menu, cast.news)
    message = await send(env, cast.manager, menu)
    await env.guild.delete_role(cast.red)
    await env.guild.delete_role(cast.verified)
    await env.settle()
    assert [b["label"] for b in message.buttons] == ["News"]
    assert "Only for members with" not in message.text
    row = await RoleMenu.get(menu_id=menu)
    assert row.required_role_id is None
    await click(env, env.alice, message, "News")  # nobody needs the deleted role any more
    assert env.alice.has_role(cast.news)


async def test_limits_and_deleting_a_menu(discord_env: DiscordEnv, cast: Cast) -> None:
    env = discord_env
    menu = await create(cast.manager)
    await offer(cast.manager, menu, cast.red)
    twice = await offer(cast.manager, menu, cast.red)
    assert "already" in twice.text, twice.text
    row = await RoleMenu.get(menu_id=menu)
    # Fill the menu to Discord's 25 through the service's table, then one more is refused.
    await RoleMenuOption.bulk_create(
        [RoleMenuOption(menu_id=row.id, role_id=10_000 + n, label=f"R{n}") for n in range(24)]
    )
    full = await offer(cast.manager, menu, cast.news)
    assert "25 roles already" in full.text, full.text

    await RoleMenuOption.filter(menu_id=row.id, role_id__in=range(10_000, 10_024)).delete()
    message = await send(env, cast.manager, menu)
    listed = await cast.manager.slash("rolemenu list")
    assert menu in listed.text and "sent in" in listed.text, listed.text

    prompt = await cast.manager.slash("rolemenu delete", menu=menu)
    done = await cast.manager.click(prompt, label="Delete menu")
    await env.settle()
    assert "deleted" in done.text, done.text
    assert message.deleted
    assert not await RoleMenu.filter(menu_id=menu).exists()
    assert not await RoleMenuOption.filter(menu_id=row.id).exists()


async def test_a_member_without_manage_roles_cannot_set_up_menus(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    menu = await create(cast.manager, title="Staff only")
    await env.guild.set_command_permissions(None, {env.guild.default_role: True})
    refused = await env.alice.slash("rolemenu create", title="Mine")
    assert refused.ephemeral and "Manage Roles" in refused.text, refused.text
    assert await RoleMenu.all().values_list("menu_id", flat=True) == [menu]
    staff_sees = await cast.manager.autocomplete("rolemenu send", "menu", "")
    alice_sees = await env.alice.autocomplete("rolemenu send", "menu", "")
    assert [choice["value"] for choice in staff_sees] == [menu]
    assert alice_sees == []


async def test_manage_permissions_of_one_channel_is_not_manage_roles(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    """A channel's overwrite granting Manage Roles is that channel's Manage Permissions: Discord
    shows the staff command there, and Pegasus still refuses it to a member without the role
    permission, so they can't hand out roles from a menu."""
    env = discord_env
    desk = await env.guild.create_text_channel(
        "desk",
        overwrites=[Overwrite(env.alice.id, 1, int(Permissions.of("manage_roles")), 0)],
    )
    refused = await env.alice.slash("rolemenu create", title="Mine", in_channel=desk)
    assert refused.ephemeral and "Manage Roles" in refused.text, refused.text
    assert not await RoleMenu.exists()
    allowed = await cast.manager.slash("rolemenu create", title="Staff", in_channel=desk)
    assert "created" in allowed.text, allowed.text


async def test_a_menu_is_not_sent_where_its_sender_cant_see(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    hidden = await env.guild.create_text_channel(
        "hidden",
        overwrites=[
            Overwrite(env.guild.id, 0, 0, int(Permissions.of("view_channel"))),
            Overwrite(env.guild.role("Pegasus").id, 0, int(Permissions.of("view_channel")), 0),
        ],
    )
    await env.settle()
    menu = await create(cast.manager)
    await offer(cast.manager, menu, cast.red)
    refused = await cast.manager.slash("rolemenu send", menu=menu, channel=hidden)
    assert refused.ephemeral and "You can't see" in refused.text, refused.text
    assert hidden.bot_messages == []
    assert (await RoleMenu.get(menu_id=menu)).message_id is None
