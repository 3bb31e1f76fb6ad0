"""/blacklist add|remove|list, the check every command passes, and leaving blacklisted servers."""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from cogs.moderation.support import utcnow
from pegasus.bot import Pegasus
from pegasus.errors import (
    Blacklisted,
    PermissionDenied,
    ValidationError,
    shown_input,
)
from pegasus.i18n import N_, _, format_number
from pegasus.services import moderation
from pegasus.services.durations import parse_duration
from pegasus.services.ids import check_snowflake
from pegasus.services.moderation import BlacklistEntityType, BlacklistHit
from pegasus.ui.format import DESCRIPTION_LIMIT, MIDNIGHT, clip, timestamp
from pegasus.ui.hierarchy import check_blacklist_target, is_server_admin

log = logging.getLogger(__name__)

Kind = BlacklistEntityType
KIND_CHOICES = [
    app_commands.Choice(name="User", value="user"),
    app_commands.Choice(name="Role", value="role"),
    app_commands.Choice(name="Channel", value="channel"),
    app_commands.Choice(name="Server (bot-wide, bot owners only)", value="guild"),
]
# What a blacklist entry is of, as the list shows it.
KIND_NAMES = {
    Kind.USER: N_("User"),
    Kind.ROLE: N_("Role"),
    Kind.CHANNEL: N_("Channel"),
    Kind.GUILD: N_("Guild"),
}
_TARGET = re.compile(r"^\s*(?:<(?:@!?|@&|#)([0-9]{1,20})>|([0-9]{1,20}))\s*$")
MAX_LISTED = 25


def parse_target_id(text: str) -> int:
    """An id from a mention (`<@1>`, `<@&1>`, `<#1>`) or a bare id."""
    match = _TARGET.match(text or "")
    if match is None:
        raise ValidationError(
            _(
                "{input} is not a mention or an id: mention the user, role or channel, "
                "or paste its id (Developer Mode → right click → Copy ID)."
            ).format(input=shown_input(text))
        )
    return check_snowflake(int(match.group(1) or match.group(2)), shown=text)


def blacklist_refusal(hit: BlacklistHit) -> str:
    """The sentence a blocked person reads."""
    if hit.entity_type is Kind.CHANNEL:
        text = _("Commands are disabled in this channel (it is blacklisted)")
    elif hit.bot_wide:
        text = {
            Kind.USER: _("You are blacklisted from using this bot"),
            Kind.ROLE: _("One of your roles is blacklisted from using this bot"),
            Kind.GUILD: _("This server is blacklisted from using this bot"),
        }[hit.entity_type]
    else:
        text = {
            Kind.USER: _("You are blacklisted from using this bot in this server"),
            Kind.ROLE: _("One of your roles is blacklisted from using this bot in this server"),
            Kind.GUILD: _("This server is blacklisted from using this bot in this server"),
        }[hit.entity_type]
    if hit.reason:
        text = _("{refusal}: {reason}").format(refusal=text, reason=hit.reason)
    if hit.expires_at is not None:
        text = _("{refusal} (until {time})").format(
            refusal=text, time=timestamp(hit.expires_at, "f")
        )
    return _("{refusal}.").format(refusal=text)


def describe_target(kind: Kind, entity_id: int) -> str:
    return {
        Kind.USER: f"<@{entity_id}>",
        Kind.ROLE: f"<@&{entity_id}>",
        Kind.CHANNEL: f"<#{entity_id}>",
        Kind.GUILD: _("server {id}").format(id=f"`{entity_id}`"),
    }[kind]


class BlacklistCog(commands.Cog, name="Blacklist"):
    """Who and where the bot ignores."""

    group = app_commands.Group(
        name="blacklist",
        description="Block users, roles or channels from using the bot.",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.pegasus_tree.interaction_checks.append(self.refuse_blacklisted)

    async def cog_unload(self) -> None:
        checks = self.bot.pegasus_tree.interaction_checks
        if self.refuse_blacklisted in checks:
            checks.remove(self.refuse_blacklisted)

    def is_owner(self, user: discord.abc.User) -> bool:
        return user.id in self.bot.settings.owner_ids

    # -- the check on every command and persistent button ------------------------------------

    async def refuse_blacklisted(self, interaction: discord.Interaction) -> None:
        user = interaction.user
        if self.is_owner(user):
            return
        member = user if isinstance(user, discord.Member) else None
        channel = interaction.channel
        channel_id = interaction.channel_id
        if isinstance(channel, discord.Thread):
            channel_id = channel.parent_id  # a thread follows its channel
        # Fails open when the database is down or slow (see check_fail_open).
        hit = await self.bot.blacklist.check_fail_open(
            now=utcnow(),
            guild_id=interaction.guild_id,
            user_id=user.id,
            channel_id=channel_id,
            role_ids=[role.id for role in member.roles] if member else (),
        )
        if hit is None:
            return
        # A server's own entries never lock out its owner and admins, who must be able to undo
        # them; bot-wide entries apply to everyone but the bot's owners.
        if not hit.bot_wide and member is not None and is_server_admin(member):
            return
        raise Blacklisted(blacklist_refusal(hit))

    # -- leaving blacklisted servers ----------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        guilds = list(self.bot.guilds)
        hits = await self.bot.blacklist.blacklisted_guilds([g.id for g in guilds], now=utcnow())
        for guild in guilds:
            hit = hits.get(guild.id)
            if hit is not None:
                await self.leave_blacklisted(guild, hit)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.leave_if_blacklisted(guild)

    async def leave_if_blacklisted(self, guild: discord.Guild) -> bool:
        hit = await self.bot.blacklist.is_guild_blacklisted(guild.id, now=utcnow())
        if hit is None:
            return False
        return await self.leave_blacklisted(guild, hit)

    async def leave_blacklisted(self, guild: discord.Guild, hit: BlacklistHit) -> bool:
        log.info("Leaving blacklisted guild %s (%s): %s", guild.id, guild.name, hit.reason)
        try:
            await guild.leave()
        except discord.HTTPException as error:
            # Tried again at the next start-up or join; commands there are refused meanwhile.
            log.warning("Could not leave blacklisted guild %s: %s", guild.id, error)
            return False
        return True

    # -- commands ------------------------------------------------------------------------------

    @group.command(name="add", description="Blacklist a user, role or channel.")
    @app_commands.describe(
        kind="What to blacklist",
        target="A mention or an id",
        reason="Why (shown to whoever is refused)",
        duration="For how long, e.g. 7d (empty: until removed)",
        bot_wide="Everywhere the bot is, not only this server (bot owners only)",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(
        self,
        interaction: discord.Interaction,
        kind: app_commands.Choice[str],
        target: str,
        reason: app_commands.Range[str, 1, 500],
        duration: str | None = None,
        bot_wide: bool = False,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        entity = Kind(kind.value)
        wide = bot_wide or entity is Kind.GUILD
        entity_id = parse_target_id(target)
        check_blacklist_target(
            guild,
            interaction.user.id,
            entity,
            entity_id,
            wide=wide,
            owner_ids=self.bot.settings.owner_ids,
        )
        seconds = parse_duration(duration) if duration else None
        entry = await moderation.add_entry(
            entity,
            entity_id,
            guild_id=None if wide else guild.id,
            actor_id=interaction.user.id,
            reason=reason,
            now=utcnow(),
            duration_seconds=seconds,
            actor_is_owner=self.is_owner(interaction.user),
            cache=self.bot.blacklist,
        )
        if entry.expires_at:
            text = (
                _("{target} is blacklisted everywhere until {time}: {reason}")
                if wide
                else _("{target} is blacklisted in this server until {time}: {reason}")
            )
        else:
            text = (
                _("{target} is blacklisted everywhere: {reason}")
                if wide
                else _("{target} is blacklisted in this server: {reason}")
            )
        await interaction.response.send_message(
            text.format(
                target=describe_target(entity, entity_id),
                time=timestamp(entry.expires_at) if entry.expires_at else "",
                reason=reason,
            ),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        if entity is Kind.GUILD:
            other = self.bot.get_guild(entity_id)
            if other is not None:
                await self.leave_if_blacklisted(other)

    @group.command(name="remove", description="Lift a blacklist entry.")
    @app_commands.describe(
        kind="What kind of entry",
        target="A mention or an id",
        bot_wide="The bot-wide entry rather than this server's (bot owners only)",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def remove(
        self,
        interaction: discord.Interaction,
        kind: app_commands.Choice[str],
        target: str,
        bot_wide: bool = False,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        entity = Kind(kind.value)
        wide = bot_wide or entity is Kind.GUILD
        entity_id = parse_target_id(target)
        await moderation.remove_entry(
            entity,
            entity_id,
            guild_id=None if wide else guild.id,
            actor_id=interaction.user.id,
            now=utcnow(),
            actor_is_owner=self.is_owner(interaction.user),
            cache=self.bot.blacklist,
        )
        await interaction.response.send_message(
            (
                _("{target} is no longer blacklisted anywhere.")
                if wide
                else _("{target} is no longer blacklisted in this server.")
            ).format(target=describe_target(entity, entity_id)),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @group.command(name="list", description="Show the blacklist of this server.")
    @app_commands.describe(bot_wide="Also show bot-wide entries (bot owners only)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def list_(self, interaction: discord.Interaction, bot_wide: bool = False) -> None:
        assert interaction.guild_id is not None
        if bot_wide and not self.is_owner(interaction.user):
            raise PermissionDenied(_("Only the bot's owners see bot-wide blacklist entries."))
        entries = await moderation.list_entries(
            interaction.guild_id, now=utcnow(), include_bot_wide=bot_wide
        )
        lines = []
        for entry in entries[:MAX_LISTED]:
            kind = entry.entity_type
            line = f"**{_(KIND_NAMES[kind])}** {describe_target(kind, entry.entity_id)}"
            if entry.guild_id is None:
                line += " · " + _("bot-wide")
            if entry.expires_at:
                line += " · " + _("until {time}").format(time=timestamp(entry.expires_at))
            lines.append(f"{line}\n{entry.reason or _('No reason given')}")
        embed = discord.Embed(
            title=_("Blacklist"),
            colour=MIDNIGHT,
            description=clip("\n\n".join(lines), DESCRIPTION_LIMIT)
            or _("Nobody and nothing is blacklisted here."),
        )
        if len(entries) > MAX_LISTED:
            embed.set_footer(
                text=_("Showing {shown} of {total} entries").format(
                    shown=MAX_LISTED, total=format_number(len(entries))
                )
            )
        await interaction.response.send_message(embed=embed, ephemeral=True)
