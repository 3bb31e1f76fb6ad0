"""Role menus: `/rolemenu` for staff, and the persistent buttons or select menu members click.

The rules live in pegasus.services.rolemenus (what a click changes) and the role rules
(pegasus.ui.roles: which roles may be offered, and given when clicked); this module turns
Discord objects into plain values, calls them and shows the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from collections.abc import AsyncIterator, Callable, Sequence

import discord
from discord import app_commands
from discord.ext import commands

from models.rolemenus import RoleMenuStyle
from pegasus.bot import Pegasus
from pegasus.errors import NotFoundError, PermissionDenied, ValidationError, role_ref
from pegasus.i18n import N_, _, for_guild, format_number, ngettext
from pegasus.services import rolemenus as service
from pegasus.services.rolemenus import MenuInfo, MenuRules, RoleChange
from pegasus.ui.checks import and_join, require_bot_can_post, require_member_can_see
from pegasus.ui.cogs import running_cog
from pegasus.ui.dynamic import PegasusButton, PegasusSelect
from pegasus.ui.format import BLURPLE, clip
from pegasus.ui.roles import remember_role_setup, require_can_delegate, vet_grants
from pegasus.ui.views import confirm

log = logging.getLogger(__name__)

MANAGE_ROLES = discord.Permissions(manage_roles=True)
MENU_HELP = "The menu's id, shown by /rolemenu list (e.g. RM-7K2QX)"
STYLE_CHOICES = [
    app_commands.Choice(name="Buttons (one per role)", value=RoleMenuStyle.BUTTONS.value),
    app_commands.Choice(name="Select menu", value=RoleMenuStyle.SELECT.value),
]
NO_PINGS = discord.AllowedMentions.none()
SELECT_PLACEHOLDER = N_("Choose your roles")
KEY = r"[0-9]{1,19}"
# What a click or a choice changes, given the menu's rules and the roles the member holds.
Decide = Callable[[MenuRules, frozenset[int]], RoleChange]
ROLE = r"[0-9]{1,20}"


class RoleMenuButton(
    PegasusButton, template=rf"pegasus:rolemenu:toggle:(?P<menu>{KEY}):(?P<role>{ROLE})"
):
    """One role of a menu: a click takes the role or gives it back. Works across restarts."""

    def __init__(self, key: int, role_id: int, item: discord.ui.Button | None = None) -> None:
        super().__init__(
            item
            or discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                custom_id=f"pegasus:rolemenu:toggle:{key}:{role_id}",
            )
        )
        self.key = key
        self.role_id = role_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> RoleMenuButton:
        return cls(int(match["menu"]), int(match["role"]), item)

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = running_cog(interaction.client, RoleMenus, feature=N_("Role menus"))
        await cog.handle_toggle(interaction, self.key, self.role_id)


class RoleMenuSelect(PegasusSelect, template=rf"pegasus:rolemenu:choose:(?P<menu>{KEY})"):
    """A menu's select: the chosen roles become the member's roles of the menu."""

    def __init__(self, key: int, item: discord.ui.Select | None = None) -> None:
        super().__init__(
            item
            or discord.ui.Select(
                custom_id=f"pegasus:rolemenu:choose:{key}",
                placeholder=_(SELECT_PLACEHOLDER),
                min_values=0,
            )
        )
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str], /
    ) -> RoleMenuSelect:
        return cls(int(match["menu"]), item)

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = running_cog(interaction.client, RoleMenus, feature=N_("Role menus"))
        values = (interaction.data or {}).get("values") or []
        await cog.handle_choice(interaction, self.key, [str(value) for value in values])


DYNAMIC_ITEMS = (RoleMenuButton, RoleMenuSelect)


# ------------------------------------------------------------------------------ rendering


def menu_embed(menu: MenuInfo) -> discord.Embed:
    """The sent menu's embed, in the server's language (a post to everyone)."""
    with for_guild(menu.guild_id):
        return _menu_embed(menu)


def _menu_embed(menu: MenuInfo) -> discord.Embed:
    lines = []
    for option in menu.options:
        emoji = f"{option.emoji} " if option.emoji else ""
        about = f" · {option.description}" if option.description else ""
        lines.append(f"{emoji}<@&{option.role_id}>{about}")
    parts = [menu.description] if menu.description else []
    if lines:
        parts.append("\n".join(lines))
    rules = []
    if menu.max_roles:
        rules.append(
            ngettext(
                "You can have at most {count} role from this menu.",
                "You can have at most {count} roles from this menu.",
                menu.max_roles,
            ).format(count=format_number(menu.max_roles))
        )
    groups = sorted({o.group for o in menu.options if o.group})
    if groups:
        rules.append(
            _("One role at a time of each group: {groups}.").format(groups=", ".join(groups))
        )
    if menu.required_role_id:
        rules.append(_("Only for members with {role}.").format(role=f"<@&{menu.required_role_id}>"))
    if menu.style is RoleMenuStyle.SELECT:
        rules.append(_("What you choose replaces your roles from this menu."))
    else:
        rules.append(_("Click a role to take it; click it again to give it back."))
    parts.append("\n".join(rules))
    embed = discord.Embed(
        title=menu.title, description=clip("\n\n".join(parts), 4096), colour=BLURPLE
    )
    embed.set_footer(text=_("Role menu {menu}").format(menu=menu.menu_id))
    return embed


def menu_view(menu: MenuInfo) -> discord.ui.View | None:
    """The buttons (five to a row) or the select; nothing while the menu offers no role."""
    if not menu.options:
        return None
    view = discord.ui.View(timeout=None)
    if menu.style is RoleMenuStyle.SELECT:
        with for_guild(menu.guild_id):  # the placeholder, on a post to everyone
            select = RoleMenuSelect(menu.key)
        for option in menu.options:
            select.item.add_option(
                label=option.label,
                value=str(option.role_id),
                description=option.description,
                emoji=option.emoji,
            )
        count = len(menu.options)
        select.item.max_values = min(menu.max_roles or count, count)
        view.add_item(select)
        return view
    for option in menu.options:
        button = RoleMenuButton(menu.key, option.role_id)
        button.item.label = option.label
        button.item.emoji = option.emoji
        view.add_item(button)
    return view


def change_reply(change: RoleChange) -> str:
    added = [f"<@&{role_id}>" for role_id in sorted(change.add)]
    removed = [f"<@&{role_id}>" for role_id in sorted(change.remove)]
    said = []
    if added:
        said.append(_("You now have {roles}.").format(roles=and_join(added)))
    if removed:
        said.append(
            ngettext("{roles} was taken back.", "{roles} were taken back.", len(removed)).format(
                roles=and_join(removed)
            )
        )
    return " ".join(said) or _("Nothing changed: you already have what you chose.")


STYLE_NAMES = {RoleMenuStyle.BUTTONS: N_("buttons"), RoleMenuStyle.SELECT: N_("select")}


def menu_summary(menu: MenuInfo) -> str:
    if menu.channel_id:
        where = _("sent in {channel}").format(channel=f"<#{menu.channel_id}>")
    else:
        where = _("not sent yet")
    roles = ngettext("{count} role", "{count} roles", len(menu.options)).format(
        count=format_number(len(menu.options))
    )
    style = _(STYLE_NAMES[menu.style]) if menu.style in STYLE_NAMES else menu.style.value
    return (
        f"`{menu.menu_id}` **{discord.utils.escape_markdown(menu.title)}** · {style} · "
        f"{roles} · {where}"
    )


# ------------------------------------------------------------------------------ the cog


def require_bot_can_manage_roles(guild: discord.Guild) -> None:
    if not guild.me.guild_permissions.manage_roles:
        raise PermissionDenied(_("I need the Manage Roles permission to give roles from a menu."))


def invoker_of(interaction: discord.Interaction) -> tuple[discord.Guild, discord.Member]:
    guild, member = interaction.guild, interaction.user
    assert guild is not None and isinstance(member, discord.Member)
    return guild, member


@app_commands.guild_only()
@app_commands.default_permissions(manage_roles=True)
class RoleMenus(
    commands.GroupCog,
    name="Role menus",
    group_name="rolemenu",
    group_description="Messages with buttons or a select menu from which members take roles.",
):
    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        self._member_locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        """A deleted role leaves the menus that offered or required it, and their messages."""
        for menu in await service.forget_role(role.guild.id, role.id):
            await self.refresh(role.guild, menu)

    # -------------------------------------------------------------------------- members' clicks

    async def handle_toggle(self, interaction: discord.Interaction, key: int, role_id: int) -> None:
        await self._handle(
            interaction, key, lambda rules, held: service.toggle(rules, held, role_id)
        )

    async def handle_choice(
        self, interaction: discord.Interaction, key: int, values: Sequence[str]
    ) -> None:
        if not all(value.isdigit() for value in values):
            raise service.NotOffered()
        chosen = frozenset(int(value) for value in values)
        await self._handle(
            interaction, key, lambda rules, held: service.choose(rules, held, chosen)
        )

    async def _handle(self, interaction: discord.Interaction, key: int, decide: Decide) -> None:
        guild, clicker = invoker_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        menu = await service.get_menu_by_key(guild.id, key)
        async with self._one_change_at_a_time(clicker) as member:
            change = decide(menu.rules, frozenset(role.id for role in member.roles))
            await self.apply(interaction, member, menu, change)

    @contextlib.asynccontextmanager
    async def _one_change_at_a_time(self, member: discord.Member) -> AsyncIterator[discord.Member]:
        """The member as Discord has them now, while no other click of theirs is handled.

        Two quick clicks both carry the roles from before either was handled, and the cache
        learns of a change only when Discord's event arrives; so clicks of one member wait for
        each other and each reads the member's roles from Discord.
        """
        key = (member.guild.id, member.id)
        lock = self._member_locks.get(key)
        if lock is None:
            lock = self._member_locks[key] = asyncio.Lock()
        async with lock:
            yield await member.guild.fetch_member(member.id)

    async def apply(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        menu: MenuInfo,
        change: RoleChange,
    ) -> None:
        """Make `change`, all of it or nothing: a role the role rules refuse changes nothing."""
        guild = member.guild
        require_bot_can_manage_roles(guild)
        adding = [self._existing_role(guild, role_id) for role_id in sorted(change.add)]
        removing = [role for role in map(guild.get_role, sorted(change.remove)) if role is not None]
        for role in removing:
            if not role.is_assignable():
                raise PermissionDenied(
                    _(
                        "{role} is not below my highest role, so I can't take it back; ask the "
                        "staff."
                    ),
                    role=role_ref(role.id),
                )
        allowed = await vet_grants(member, adding, purpose=f"role menu {menu.menu_id}")
        refused = [role for role in adding if role not in allowed]
        if refused:
            raise PermissionDenied(
                _(
                    "I can't give you {roles}: the staff have been told why. Nothing was changed."
                ).format(roles=and_join([r.mention for r in refused]))
            )
        with for_guild(guild.id):  # the reason is shown in the server's audit log
            reason = _("Role menu {menu}").format(menu=menu.menu_id)
        if removing:
            await member.remove_roles(*removing, reason=reason)
        if adding:
            await member.add_roles(*adding, reason=reason)
        await interaction.followup.send(
            change_reply(change), ephemeral=True, allowed_mentions=NO_PINGS
        )

    @staticmethod
    def _existing_role(guild: discord.Guild, role_id: int) -> discord.Role:
        role = guild.get_role(role_id)
        if role is None:
            raise NotFoundError(_("That role no longer exists; ask the staff to update this menu."))
        return role

    # -------------------------------------------------------------------------- the sent message

    async def refresh(self, guild: discord.Guild, menu: MenuInfo) -> str:
        """Update the sent message to show `menu`; what happened, as a sentence for staff."""
        if menu.channel_id is None or menu.message_id is None:
            return ""
        channel = guild.get_channel(menu.channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            await service.forget_message(guild.id, menu.key, menu.message_id)
            return " " + _("Its channel is gone: send it again with `/rolemenu send`.")
        message = channel.get_partial_message(menu.message_id)
        try:
            await message.edit(embed=menu_embed(menu), view=menu_view(menu))
        except discord.NotFound:
            await service.forget_message(guild.id, menu.key, menu.message_id)
            return " " + _("Its message was deleted: send it again with `/rolemenu send`.")
        except discord.HTTPException as error:
            log.warning("Role menu %s not refreshed in guild %s: %s", menu.menu_id, guild.id, error)
            reason = error.text or error
            return " " + _("I could not update the sent menu in {channel} ({reason}).").format(
                channel=channel.mention, reason=reason
            )
        return " " + _("The menu in {channel} is updated.").format(channel=channel.mention)

    # -------------------------------------------------------------------------- /rolemenu

    async def menu_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        wanted = current.strip().casefold()
        return [
            app_commands.Choice(
                name=clip(f"{menu.menu_id} · {menu.title}", 100), value=menu.menu_id
            )
            for menu in await service.list_menus(interaction.guild.id)
            if wanted in f"{menu.menu_id} {menu.title}".casefold()
        ][:25]

    @app_commands.command(name="create", description="Create a role menu (then add roles to it).")
    @app_commands.describe(
        title="The menu's title",
        description="Text shown above the roles",
        style="Buttons (one per role) or a select menu",
        max_roles=f"The most roles a member may take from it (0 = no limit, at most "
        f"{service.MAX_OPTIONS})",
        required_role="Only members with this role may use the menu",
    )
    @app_commands.choices(style=STYLE_CHOICES)
    @app_commands.checks.has_permissions(manage_roles=True)
    async def create(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, service.MAX_TITLE],
        description: app_commands.Range[str, 1, service.MAX_DESCRIPTION] | None = None,
        style: str = RoleMenuStyle.BUTTONS.value,
        max_roles: app_commands.Range[int, 0, service.MAX_OPTIONS] = 0,
        required_role: discord.Role | None = None,
    ) -> None:
        guild, member = invoker_of(interaction)
        if required_role is not None and required_role.is_default():
            raise ValidationError(_("Everyone has @everyone: leave the required role out instead."))
        menu = await service.create_menu(
            guild.id,
            member.id,
            title=title,
            description=description or "",
            style=RoleMenuStyle(style),
            max_roles=max_roles,
            required_role_id=required_role.id if required_role else None,
        )
        await interaction.response.send_message(
            _(
                "Role menu `{menu}` created. Add roles with `/rolemenu add menu:{menu}`, then "
                "post it with `/rolemenu send`."
            ).format(menu=menu.menu_id),
            ephemeral=True,
        )

    @app_commands.command(name="add", description="Offer a role in a role menu.")
    @app_commands.describe(
        menu=MENU_HELP,
        role="The role members can take",
        label="The text on its button or in the list (default: the role's name)",
        emoji="An emoji shown with it",
        description="A short explanation (shown in a select menu's list)",
        group="An exclusive group: a member holds one role of a group at a time",
    )
    @app_commands.autocomplete(menu=menu_autocomplete)
    @app_commands.checks.has_permissions(manage_roles=True)
    async def add(
        self,
        interaction: discord.Interaction,
        menu: str,
        role: discord.Role,
        label: app_commands.Range[str, 1, service.MAX_LABEL] | None = None,
        emoji: str | None = None,
        description: app_commands.Range[str, 1, service.MAX_OPTION_DESCRIPTION] | None = None,
        group: app_commands.Range[str, 1, service.MAX_GROUP] | None = None,
    ) -> None:
        guild, member = invoker_of(interaction)
        require_bot_can_manage_roles(guild)
        require_can_delegate(role, member)
        changed = await service.add_option(
            guild.id,
            menu,
            member.id,
            role_id=role.id,
            label=label or role.name[: service.MAX_LABEL],
            emoji=emoji,
            description=description,
            group=group,
        )
        await remember_role_setup(role, member)
        await interaction.response.defer(ephemeral=True, thinking=True)
        refreshed = await self.refresh(guild, changed)
        await interaction.followup.send(
            _("Menu `{menu}` now offers {role} ({count}/{limit}).").format(
                menu=changed.menu_id,
                role=role.mention,
                count=len(changed.options),
                limit=service.MAX_OPTIONS,
            )
            + refreshed,
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @app_commands.command(name="remove", description="Stop offering a role in a role menu.")
    @app_commands.describe(menu=MENU_HELP, role="The role to take out of the menu")
    @app_commands.autocomplete(menu=menu_autocomplete)
    @app_commands.checks.has_permissions(manage_roles=True)
    async def remove(self, interaction: discord.Interaction, menu: str, role: discord.Role) -> None:
        guild, member = invoker_of(interaction)
        changed = await service.remove_option(guild.id, menu, member.id, role_id=role.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        refreshed = await self.refresh(guild, changed)
        await interaction.followup.send(
            _("Menu `{menu}` no longer offers {role}; members who have it keep it.").format(
                menu=changed.menu_id, role=role.mention
            )
            + refreshed,
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @app_commands.command(name="send", description="Post a role menu in a channel.")
    @app_commands.describe(menu=MENU_HELP, channel="Where to post it (default: this channel)")
    @app_commands.autocomplete(menu=menu_autocomplete)
    @app_commands.checks.has_permissions(manage_roles=True)
    async def send(
        self,
        interaction: discord.Interaction,
        menu: str,
        channel: discord.TextChannel | None = None,
    ) -> None:
        guild, member = invoker_of(interaction)
        found = await service.get_menu(guild.id, menu)
        target = channel or interaction.channel
        if not isinstance(target, discord.TextChannel):
            raise ValidationError(_("Choose a text channel to post the menu in."))
        if not found.options:
            raise ValidationError(
                _("Menu `{menu}` offers no role yet: add one with `/rolemenu add`.").format(
                    menu=found.menu_id
                )
            )
        require_bot_can_manage_roles(guild)
        require_member_can_see(target, member)
        require_bot_can_post(target, embeds=True, what=N_("the role menu"))
        await interaction.response.defer(ephemeral=True, thinking=True)
        message = await target.send(
            embed=menu_embed(found), view=menu_view(found), allowed_mentions=NO_PINGS
        )
        await service.record_sent(guild.id, found.key, target.id, message.id)
        earlier = (
            " "
            + _("The copy sent earlier in {channel} still works but is no longer updated.").format(
                channel=f"<#{found.channel_id}>"
            )
            if found.message_id is not None and found.message_id != message.id
            else ""
        )
        await interaction.followup.send(
            _("Menu `{menu}` posted in {channel}.").format(
                menu=found.menu_id, channel=target.mention
            )
            + earlier,
            ephemeral=True,
        )

    @app_commands.command(name="edit", description="Change a role menu; a sent one is updated.")
    @app_commands.describe(
        menu=MENU_HELP,
        title="A new title",
        description="New text shown above the roles",
        style="Buttons (one per role) or a select menu",
        max_roles="The most roles a member may take from it (0 = no limit)",
        required_role="Only members with this role may use the menu",
        clear_required_role="Let every member use the menu again",
    )
    @app_commands.choices(style=STYLE_CHOICES)
    @app_commands.autocomplete(menu=menu_autocomplete)
    @app_commands.checks.has_permissions(manage_roles=True)
    async def edit(
        self,
        interaction: discord.Interaction,
        menu: str,
        title: app_commands.Range[str, 1, service.MAX_TITLE] | None = None,
        description: app_commands.Range[str, 1, service.MAX_DESCRIPTION] | None = None,
        style: str | None = None,
        max_roles: app_commands.Range[int, 0, service.MAX_OPTIONS] | None = None,
        required_role: discord.Role | None = None,
        clear_required_role: bool = False,
    ) -> None:
        guild, member = invoker_of(interaction)
        if required_role is not None and required_role.is_default():
            raise ValidationError(_("Everyone has @everyone: clear the required role instead."))
        changed = await service.edit_menu(
            guild.id,
            menu,
            member.id,
            title=title,
            description=description,
            style=RoleMenuStyle(style) if style else None,
            max_roles=max_roles,
            required_role_id=required_role.id if required_role else None,
            clear_required_role=clear_required_role,
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        refreshed = await self.refresh(guild, changed)
        await interaction.followup.send(
            _("Menu `{menu}` changed.").format(menu=changed.menu_id) + refreshed, ephemeral=True
        )

    @app_commands.command(name="list", description="Show this server's role menus.")
    @app_commands.checks.has_permissions(manage_roles=True)
    async def list_(self, interaction: discord.Interaction) -> None:
        guild, _member = invoker_of(interaction)
        menus = await service.list_menus(guild.id)
        embed = discord.Embed(title=_("Role menus"), colour=BLURPLE)
        embed.description = (
            clip("\n".join(menu_summary(menu) for menu in menus), 4096)
            if menus
            else _("None yet: create one with `/rolemenu create`.")
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="delete", description="Delete a role menu and its sent message.")
    @app_commands.describe(menu=MENU_HELP)
    @app_commands.autocomplete(menu=menu_autocomplete)
    @app_commands.checks.has_permissions(manage_roles=True)
    async def delete(self, interaction: discord.Interaction, menu: str) -> None:
        guild, member = invoker_of(interaction)
        found = await service.get_menu(guild.id, menu)

        async def remove_menu(answer: discord.Interaction) -> None:
            deleted = await service.delete_menu(guild.id, found.menu_id, member.id)
            await self._delete_sent(guild, deleted)
            await answer.response.edit_message(
                content=_("Role menu `{menu}` deleted; members keep the roles they took.").format(
                    menu=deleted.menu_id
                ),
                view=None,
            )

        await confirm(
            interaction,
            _("Delete role menu `{menu}` (**{title}**) and its sent message?").format(
                menu=found.menu_id, title=found.title
            ),
            remove_menu,
            confirm_label=_("Delete menu"),
        )

    @staticmethod
    async def _delete_sent(guild: discord.Guild, menu: MenuInfo) -> None:
        channel = guild.get_channel(menu.channel_id) if menu.channel_id else None
        if menu.message_id is None or not isinstance(channel, discord.abc.Messageable):
            return
        try:
            await channel.get_partial_message(menu.message_id).delete()  # type: ignore[attr-defined]
        except discord.HTTPException as error:
            log.info("Sent role menu %s not deleted: %s", menu.menu_id, error)


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(RoleMenus(bot))
