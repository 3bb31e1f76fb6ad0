"""Welcome and goodbye messages, autoroles and the server log.

The rules and the stored settings live in pegasus.services.community; this module turns Discord
objects into plain values, checks what only Discord knows (channel permissions, role hierarchy),
and posts the results.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import escape_markdown

from pegasus.bot import Pegasus
from pegasus.errors import NotFoundError, ValidationError, channel_ref
from pegasus.i18n import N_, _, for_guild, pgettext
from pegasus.services import community as service
from pegasus.services import moderation
from pegasus.services.community import (
    LOG_CATEGORY_LABELS,
    LOG_EVENT_LABELS,
    GreetingConfig,
    GreetingKind,
    GuildConfig,
    LogCategory,
    LogEvent,
    MemberFacts,
)
from pegasus.ui.checks import MANAGE_SERVER, require_bot_can_post
from pegasus.ui.format import BLURPLE, GREEN, ORANGE, PURPLE, RED, amount, clip, timestamp
from pegasus.ui.logpost import post_log, post_to_channel, sendable_text_channel
from pegasus.ui.roles import configurer, remember_role_setup, role_facts, vet_grants
from pegasus.web.jobs import JobKind, job_executor

log = logging.getLogger(__name__)

COLOUR_JOIN = GREEN
COLOUR_LEAVE = ORANGE
COLOUR_DELETE = RED
COLOUR_EDIT = BLURPLE
COLOUR_ROLES = PURPLE
COLOUR_INFO = BLURPLE
TEMPLATE_HELP = N_("{user} mention, {username} name, {server}, {member_count}")
CLEAR_HELP = "type none to remove"
LOG_CATEGORY_CHOICES = [
    app_commands.Choice(name=category.value, value=category.value) for category in LogCategory
]


# /welcome set and /goodbye set: option → the setting it changes (the help comes from the
# declaration); options that `none` clears say so.
GREETING_OPTIONS = {
    "channel": "channel_id",
    "message": "message",
    "embed": "embed_enabled",
    "color": "embed_color",
    "title": "embed_title",
    "image": "embed_image",
    "thumbnail": "embed_thumbnail",
    "dm": "dm_enabled",
    "dm_message": "dm_message",
}
CLEARABLE_OPTIONS = {"color", "title", "image", "thumbnail", "dm_message"}


def greeting_help(kind: GreetingKind) -> dict[str, str]:
    described = {}
    for option, suffix in GREETING_OPTIONS.items():
        name = f"{kind.value}_{suffix}"
        if name not in service.SETTINGS:
            continue  # goodbyes have no direct message
        text = service.SETTINGS[name].help
        described[option] = f"{text} ({CLEAR_HELP})" if option in CLEARABLE_OPTIONS else text
    return described


# ------------------------------------------------------------------------------------------------
# Helpers shared with the security cog


def member_facts(member: discord.Member) -> MemberFacts:
    guild = member.guild
    return MemberFacts(
        user_id=member.id,
        mention=member.mention,
        username=escape_markdown(member.display_name),
        server=escape_markdown(guild.name),
        member_count=guild.member_count or len(guild.members),
    )


def greeting_embed(spec: service.EmbedSpec) -> discord.Embed:
    embed = discord.Embed(
        title=spec.title, description=spec.description, colour=spec.color or COLOUR_INFO
    )
    if spec.image_url:
        embed.set_image(url=spec.image_url)
    if spec.thumbnail_url:
        embed.set_thumbnail(url=spec.thumbnail_url)
    return embed


def describe_greeting(kind: GreetingKind, settings: GreetingConfig) -> discord.Embed:
    title = _("Welcome messages") if kind is GreetingKind.WELCOME else _("Goodbye messages")
    state = _("On") if settings.enabled else _("Off")
    channel = f"<#{settings.channel_id}>" if settings.channel_id else _("not set")
    embed = discord.Embed(
        title=title,
        description=_("**{state}** · channel {channel}").format(state=state, channel=channel),
        colour=COLOUR_INFO,
    )
    embed.add_field(name=_("Message"), value=clip(f"```\n{settings.message}\n```"), inline=False)
    if settings.embed_enabled:
        colour = (
            f"#{settings.embed_color:06X}" if settings.embed_color is not None else _("default")
        )
        details = [
            _("title: {title}").format(title=settings.embed_title or _("none")),
            _("colour: {colour}").format(colour=colour),
            _("image: {image}").format(image=settings.embed_image or _("none")),
            _("thumbnail: {thumbnail}").format(thumbnail=settings.embed_thumbnail or _("none")),
        ]
        embed.add_field(name=_("Embed"), value=clip("\n".join(details)), inline=False)
    else:
        embed.add_field(name=_("Embed"), value=_("off (plain message)"), inline=False)
    if kind is GreetingKind.WELCOME:
        dm = pgettext("direct message", "off")
        if settings.dm_enabled:
            dm = clip(
                _("on:\n{message}").format(
                    message=f"```\n{settings.dm_message or settings.message}\n```"
                )
            )
        embed.add_field(name=_("Direct message"), value=dm, inline=False)
    embed.set_footer(text=_("Placeholders: {placeholders}").format(placeholders=_(TEMPLATE_HELP)))
    return embed


def member_log_embed(member: discord.Member, title: str, colour: int) -> discord.Embed:
    """The server-log embed of something a member did: who, and their id to search by."""
    embed = discord.Embed(
        title=title, description=f"{member.mention} ({escape_markdown(str(member))})", colour=colour
    )
    embed.set_footer(text=_("User id {id}").format(id=member.id))
    return embed


def role_list(role_ids: Sequence[int], guild: discord.Guild) -> str:
    shown = []
    for role_id in role_ids:
        role = guild.get_role(role_id)
        shown.append(role.mention if role else _("a deleted role (`{id}`)").format(id=role_id))
    return ", ".join(shown) or _("none")


# ------------------------------------------------------------------------------------------------
# The cog


class Community(commands.Cog):
    """Greets newcomers, says goodbye, gives roles on join, and keeps the server log."""

    welcome = app_commands.Group(
        name="welcome",
        description="Greet members who join, in a channel and privately.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )
    goodbye = app_commands.Group(
        name="goodbye",
        description="Say goodbye when members leave.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )
    autorole = app_commands.Group(
        name="autorole",
        description="Roles given to every member who joins.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )
    server_log = app_commands.Group(
        name="logging",
        description="The server log: messages, members, moderation, automod, voice, server.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.scheduler.register(JobKind.GREETING_TEST, job_executor(self._run_test_job))

    async def cog_unload(self) -> None:
        self.bot.scheduler.unregister(JobKind.GREETING_TEST)

    async def _run_test_job(self, guild_id: int, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The queued greeting test of the REST API: what `/welcome test` does."""
        kind = GreetingKind(payload["greeting"])
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            raise NotFoundError(_("I am not in that server."))
        member = guild.get_member(int(payload["member_id"]))
        if member is None:
            raise NotFoundError(_("That member is not in this server."))
        settings = (await self.bot.guild_configs.get(guild_id)).greeting(kind)
        if settings.channel_id is None:
            if kind is GreetingKind.WELCOME:
                raise NotFoundError(_("Set welcome messages up first."))
            raise NotFoundError(_("Set goodbye messages up first."))
        channel = await self.send_greeting(member, settings, kind)
        if channel is None:
            raise ValidationError(
                _(
                    "I couldn't post in {channel}: check that it still exists and that I may "
                    "send messages and embeds there."
                ),
                channel=channel_ref(settings.channel_id),
            )
        return {"channel_id": str(channel.id), "member_id": str(member.id)}

    # --------------------------------------------------------------------------------------------
    # Listeners

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        config = await self.bot.guild_configs.get(member.guild.id)
        await self.greet(member, config, GreetingKind.WELCOME)
        await self.give_autoroles(member, config)
        with for_guild(member.guild.id):
            embed = self.join_embed(member)
        await post_log(member.guild, config, LogEvent.MEMBER_JOIN, embed)

    @commands.Cog.listener()
    async def on_member_remove(self, member: discord.Member) -> None:
        config = await self.bot.guild_configs.get(member.guild.id)
        await self.greet(member, config, GreetingKind.GOODBYE)
        with for_guild(member.guild.id):
            embed = self.leave_embed(member)
        await post_log(member.guild, config, LogEvent.MEMBER_LEAVE, embed)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.roles == after.roles:
            return
        config = await self.bot.guild_configs.get(after.guild.id)
        if config.logs(LogEvent.ROLE_CHANGE) is None:
            return
        added = [role for role in after.roles if role not in before.roles]
        removed = [role for role in before.roles if role not in after.roles]
        with for_guild(after.guild.id):
            embed = discord.Embed(
                title=_("Roles changed"),
                description=f"{after.mention} ({after})",
                colour=COLOUR_ROLES,
            )
            if added:
                embed.add_field(name=_("Given"), value=clip(", ".join(r.mention for r in added)))
            if removed:
                embed.add_field(name=_("Taken"), value=clip(", ".join(r.mention for r in removed)))
            embed.set_footer(text=_("User id {id}").format(id=after.id))
        await post_log(after.guild, config, LogEvent.ROLE_CHANGE, embed)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is None:
            return
        guild = self.bot.get_guild(payload.guild_id)
        if guild is None:
            return
        config = await self.bot.guild_configs.get(guild.id)
        log_channel = config.logs(LogEvent.MESSAGE_DELETE)
        if log_channel is None or payload.channel_id in config.log_channel_ids:
            return  # not logged, or a message of the log itself (would loop on cleanups)
        message = payload.cached_message
        if message is not None and message.author.bot:
            return
        with for_guild(guild.id):
            embed = self.deleted_message_embed(payload, message)
        await post_log(guild, config, LogEvent.MESSAGE_DELETE, embed)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        if payload.guild_id is None:
            return
        after = payload.message
        before = payload.cached_message
        if after.author.bot or (before is not None and before.content == after.content):
            return  # bots, and edits that only add link previews
        guild = self.bot.get_guild(payload.guild_id)
        if guild is None:
            return
        config = await self.bot.guild_configs.get(guild.id)
        if config.logs(LogEvent.MESSAGE_EDIT) is None:
            return
        with for_guild(guild.id):
            embed = discord.Embed(
                title=_("Message edited"),
                description=_("{author} in {channel} · [jump to it]({link})").format(
                    author=after.author.mention,
                    channel=f"<#{payload.channel_id}>",
                    link=after.jump_url,
                ),
                colour=COLOUR_EDIT,
            )
            old = before.content if before is not None else _("*unknown: sent before I started*")
            embed.add_field(name=_("Before"), value=clip(old or _("*no text*")), inline=False)
            embed.add_field(
                name=_("After"), value=clip(after.content or _("*no text*")), inline=False
            )
            embed.set_footer(
                text=_("Message id {message} · user id {user}").format(
                    message=after.id, user=after.author.id
                )
            )
        await post_log(guild, config, LogEvent.MESSAGE_EDIT, embed)

    @staticmethod
    def deleted_message_embed(
        payload: discord.RawMessageDeleteEvent, message: discord.Message | None
    ) -> discord.Embed:
        embed = discord.Embed(title=_("Message deleted"), colour=COLOUR_DELETE)
        embed.add_field(name=_("Channel"), value=f"<#{payload.channel_id}>")
        if message is None:
            embed.description = _("The message was sent before I started, so I don't know it.")
        else:
            embed.add_field(name=_("Author"), value=f"{message.author.mention} ({message.author})")
            embed.description = clip(message.content or _("*no text*"), 4000)
            if message.attachments:
                names = ", ".join(a.filename for a in message.attachments)
                embed.add_field(name=_("Attachments"), value=clip(names), inline=False)
            embed.set_footer(
                text=_("Message id {message} · user id {user}").format(
                    message=payload.message_id, user=message.author.id
                )
            )
        return embed

    # --------------------------------------------------------------------------------------------
    # What the listeners do

    async def greet(self, member: discord.Member, config: GuildConfig, kind: GreetingKind) -> None:
        settings = config.greeting(kind)
        if not settings.enabled:
            return
        await self.send_greeting(member, settings, kind)

    async def send_greeting(
        self, member: discord.Member, settings: GreetingConfig, kind: GreetingKind
    ) -> discord.TextChannel | None:
        """Post the greeting of `member`; the channel it went to, or None."""
        with for_guild(member.guild.id):
            greeting = service.build_greeting(kind, settings, member_facts(member))
        channel = sendable_text_channel(member.guild, settings.channel_id)
        posted = None
        if channel is not None:
            message = await post_to_channel(
                channel,
                content=greeting.content,
                embed=greeting_embed(greeting.embed) if greeting.embed else None,
                # Only the newcomer is pinged, whatever else the template mentions.
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[member]
                ),
            )
            posted = channel if message is not None else None
        if greeting.dm:
            try:
                await member.send(greeting.dm)
            except discord.HTTPException:
                log.info("Could not send the welcome DM to %s (DMs closed?)", member.id)
        return posted

    async def give_autoroles(self, member: discord.Member, config: GuildConfig) -> None:
        if member.bot or not config.autoroles:
            return
        guild = member.guild
        if not guild.me.guild_permissions.manage_roles:
            log.warning("Autoroles skipped in guild %s: missing Manage Roles", guild.id)
            return
        roles = [guild.get_role(role_id) for role_id in config.autoroles]
        due = [role for role in roles if role is not None and role.is_assignable()]
        assignable = await vet_grants(member, due, purpose=N_("autorole"))
        if not assignable:
            return
        with for_guild(guild.id):  # the reason is shown in the server's audit log
            reason = _("Autorole: given to every new member")
        try:
            await member.add_roles(*assignable, reason=reason)
        except discord.HTTPException as error:
            log.warning("Autoroles failed for %s in guild %s: %s", member.id, guild.id, error)

    @staticmethod
    def join_embed(member: discord.Member) -> discord.Embed:
        embed = member_log_embed(member, _("Member joined"), COLOUR_JOIN)
        embed.add_field(name=_("Account created"), value=timestamp(member.created_at))
        embed.add_field(name=_("Members"), value=amount(member.guild.member_count or 0))
        return embed

    @staticmethod
    def leave_embed(member: discord.Member) -> discord.Embed:
        embed = member_log_embed(member, _("Member left"), COLOUR_LEAVE)
        if member.joined_at is not None:
            embed.add_field(name=_("Joined"), value=timestamp(member.joined_at))
        roles = [role.mention for role in member.roles if not role.is_default()]
        if roles:
            embed.add_field(name=_("Roles"), value=clip(", ".join(roles)), inline=False)
        return embed

    # --------------------------------------------------------------------------------------------
    # /welcome and /goodbye

    async def set_greeting(
        self,
        interaction: discord.Interaction,
        kind: GreetingKind,
        channel: discord.TextChannel,
        **options: str | bool | None,
    ) -> None:
        assert interaction.guild is not None
        current = (await self.bot.guild_configs.get(interaction.guild.id)).greeting(kind)
        embeds = options.get("embed_enabled")
        require_bot_can_post(
            channel,
            embeds=bool(embeds if embeds is not None else current.embed_enabled),
            what=N_("welcome messages") if kind is GreetingKind.WELCOME else N_("goodbye messages"),
        )
        config = await service.set_greeting(
            interaction.guild.id,
            interaction.user.id,
            kind,
            channel_id=channel.id,
            cache=self.bot.guild_configs,
            **options,  # type: ignore[arg-type]
        )
        embed = describe_greeting(kind, config.greeting(kind))
        if kind is GreetingKind.WELCOME:
            done = _("Welcome messages are on in {channel}. Try it with `/welcome test`.")
        else:
            done = _("Goodbye messages are on in {channel}. Try it with `/goodbye test`.")
        await interaction.response.send_message(
            done.format(channel=channel.mention),
            embed=embed,
            ephemeral=True,
        )

    async def show_greeting(self, interaction: discord.Interaction, kind: GreetingKind) -> None:
        assert interaction.guild is not None
        config = await self.bot.guild_configs.get(interaction.guild.id)
        await interaction.response.send_message(
            embed=describe_greeting(kind, config.greeting(kind)), ephemeral=True
        )

    async def test_greeting(self, interaction: discord.Interaction, kind: GreetingKind) -> None:
        assert interaction.guild is not None and isinstance(interaction.user, discord.Member)
        settings = (await self.bot.guild_configs.get(interaction.guild.id)).greeting(kind)
        if settings.channel_id is None:
            if kind is GreetingKind.WELCOME:
                raise NotFoundError(_("Set welcome messages up first with `/welcome set`."))
            raise NotFoundError(_("Set goodbye messages up first with `/goodbye set`."))
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = await self.send_greeting(interaction.user, settings, kind)
        if channel is None:
            await interaction.followup.send(
                _(
                    "I couldn't post in {channel}: check that it still exists and that I may "
                    "send messages and embeds there."
                ).format(channel=f"<#{settings.channel_id}>"),
                ephemeral=True,
            )
            return
        if kind is not GreetingKind.WELCOME:
            posted = _("Posted a test goodbye for you in {channel}.")
        elif settings.dm_enabled:
            posted = _(
                "Posted a test welcome for you in {channel} and sent you the direct message."
            )
        else:
            posted = _("Posted a test welcome for you in {channel}.")
        text = posted.format(channel=channel.mention)
        if not settings.enabled:
            if kind is GreetingKind.WELCOME:
                text += " " + _("They are off: turn them on with `/welcome set`.")
            else:
                text += " " + _("They are off: turn them on with `/goodbye set`.")
        await interaction.followup.send(text, ephemeral=True)

    async def disable_greeting(self, interaction: discord.Interaction, kind: GreetingKind) -> None:
        assert interaction.guild is not None
        await service.disable_greeting(
            interaction.guild.id, interaction.user.id, kind, cache=self.bot.guild_configs
        )
        if kind is GreetingKind.WELCOME:
            text = _(
                "Welcome messages are off. Your message and channel are kept: "
                "`/welcome set` turns them back on."
            )
        else:
            text = _(
                "Goodbye messages are off. Your message and channel are kept: "
                "`/goodbye set` turns them back on."
            )
        await interaction.response.send_message(text, ephemeral=True)

    @welcome.command(name="set", description="Turn welcome messages on and choose what they say.")
    @app_commands.describe(**greeting_help(GreetingKind.WELCOME))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def welcome_set(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        message: str | None = None,
        embed: bool | None = None,
        color: str | None = None,
        title: str | None = None,
        image: str | None = None,
        thumbnail: str | None = None,
        dm: bool | None = None,
        dm_message: str | None = None,
    ) -> None:
        await self.set_greeting(
            interaction,
            GreetingKind.WELCOME,
            channel,
            message=message,
            embed_enabled=embed,
            embed_color=color,
            embed_title=title,
            embed_image=image,
            embed_thumbnail=thumbnail,
            dm_enabled=dm,
            dm_message=dm_message,
        )

    @welcome.command(name="show", description="Show how welcome messages are set up.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def welcome_show(self, interaction: discord.Interaction) -> None:
        await self.show_greeting(interaction, GreetingKind.WELCOME)

    @welcome.command(name="test", description="Post a welcome for yourself to see how it looks.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def welcome_test(self, interaction: discord.Interaction) -> None:
        await self.test_greeting(interaction, GreetingKind.WELCOME)

    @welcome.command(name="disable", description="Stop welcome messages (the setup is kept).")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def welcome_disable(self, interaction: discord.Interaction) -> None:
        await self.disable_greeting(interaction, GreetingKind.WELCOME)

    @goodbye.command(name="set", description="Turn goodbye messages on and choose what they say.")
    @app_commands.describe(**greeting_help(GreetingKind.GOODBYE))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def goodbye_set(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        message: str | None = None,
        embed: bool | None = None,
        color: str | None = None,
        title: str | None = None,
        image: str | None = None,
        thumbnail: str | None = None,
    ) -> None:
        await self.set_greeting(
            interaction,
            GreetingKind.GOODBYE,
            channel,
            message=message,
            embed_enabled=embed,
            embed_color=color,
            embed_title=title,
            embed_image=image,
            embed_thumbnail=thumbnail,
        )

    @goodbye.command(name="show", description="Show how goodbye messages are set up.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def goodbye_show(self, interaction: discord.Interaction) -> None:
        await self.show_greeting(interaction, GreetingKind.GOODBYE)

    @goodbye.command(name="test", description="Post a goodbye for yourself to see how it looks.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def goodbye_test(self, interaction: discord.Interaction) -> None:
        await self.test_greeting(interaction, GreetingKind.GOODBYE)

    @goodbye.command(name="disable", description="Stop goodbye messages (the setup is kept).")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def goodbye_disable(self, interaction: discord.Interaction) -> None:
        await self.disable_greeting(interaction, GreetingKind.GOODBYE)

    # --------------------------------------------------------------------------------------------
    # /autorole

    @autorole.command(name="add", description="Give a role to every member who joins.")
    @app_commands.describe(role="The role to give on join")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def autorole_add(self, interaction: discord.Interaction, role: discord.Role) -> None:
        assert interaction.guild is not None and isinstance(interaction.user, discord.Member)
        check_autorole(role, interaction.user)
        config = await service.add_autorole(
            interaction.guild.id, interaction.user.id, role.id, cache=self.bot.guild_configs
        )
        await remember_role_setup(role, interaction.user)
        await interaction.response.send_message(
            _("New members now get {role}. Autoroles: {roles}.").format(
                role=role.mention, roles=role_list(config.autoroles, interaction.guild)
            ),
            ephemeral=True,
        )

    @autorole.command(name="remove", description="Stop giving a role on join.")
    @app_commands.describe(role="The role to stop giving")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def autorole_remove(self, interaction: discord.Interaction, role: discord.Role) -> None:
        assert interaction.guild is not None
        config = await service.remove_autorole(
            interaction.guild.id, interaction.user.id, role.id, cache=self.bot.guild_configs
        )
        remaining = role_list(config.autoroles, interaction.guild)
        await interaction.response.send_message(
            _("New members no longer get {role}. Autoroles: {roles}.").format(
                role=role.mention, roles=remaining
            ),
            ephemeral=True,
        )

    @autorole.command(name="list", description="Show the roles given on join.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def autorole_list(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        guild = interaction.guild
        config = await self.bot.guild_configs.get(guild.id)
        embed = discord.Embed(title=_("Autoroles"), colour=COLOUR_INFO)
        embed.description = (
            _("Given to every new member: {roles}.").format(
                roles=role_list(config.autoroles, guild)
            )
            if config.autoroles
            else _("None yet: add one with `/autorole add`.")
        )
        problems = [
            role.mention
            for role in map(guild.get_role, config.autoroles)
            if role is not None and not role.is_assignable()
        ]
        if problems:
            embed.add_field(
                name=_("I can't give these"),
                value=clip(
                    _("{roles}: move my role above them.").format(roles=", ".join(problems))
                ),
                inline=False,
            )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # --------------------------------------------------------------------------------------------
    # /logging

    @server_log.command(
        name="set", description="Choose the log channel (every category) and what it reports."
    )
    @app_commands.describe(
        channel="Where to post the log (security alerts go there too)",
        events="all, or names of events, e.g. message_delete, member_join, voice_join",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def logging_set(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        events: str | None = None,
    ) -> None:
        assert interaction.guild is not None
        chosen = service.parse_log_events(events)
        require_bot_can_post(channel, embeds=True, what=N_("the log"))
        await service.set_logging(
            interaction.guild.id,
            interaction.user.id,
            channel_id=channel.id,
            events=chosen,
            cache=self.bot.guild_configs,
        )
        listed = ", ".join(_(LOG_EVENT_LABELS[event]) for event in chosen)
        await interaction.response.send_message(
            _("The server log is on in {channel}: {events}.").format(
                channel=channel.mention, events=listed
            ),
            ephemeral=True,
        )

    @server_log.command(name="channel", description="Choose the channel of one log category.")
    @app_commands.describe(
        category="messages, members, moderation (the modlog), automod, voice or server",
        channel="Where this category is posted",
    )
    @app_commands.choices(category=LOG_CATEGORY_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def logging_channel(
        self,
        interaction: discord.Interaction,
        category: app_commands.Choice[str],
        channel: discord.TextChannel,
    ) -> None:
        assert interaction.guild is not None
        chosen = LogCategory(category.value)
        require_bot_can_post(channel, embeds=True, what=N_("the log"))
        if chosen is LogCategory.MODERATION:
            await moderation.set_modlog_channel(
                interaction.guild.id, channel.id, actor_id=interaction.user.id
            )
        else:
            await service.set_log_category(
                interaction.guild.id,
                interaction.user.id,
                chosen,
                channel_id=channel.id,
                cache=self.bot.guild_configs,
            )
        await interaction.response.send_message(
            _("The {category} log is posted in {channel}.").format(
                category=_(LOG_CATEGORY_LABELS[chosen]), channel=channel.mention
            ),
            ephemeral=True,
        )

    @server_log.command(name="off", description="Stop logging one category.")
    @app_commands.describe(category="The category to stop logging")
    @app_commands.choices(category=LOG_CATEGORY_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def logging_off(
        self, interaction: discord.Interaction, category: app_commands.Choice[str]
    ) -> None:
        assert interaction.guild is not None
        chosen = LogCategory(category.value)
        if chosen is LogCategory.MODERATION:
            await moderation.set_modlog_channel(
                interaction.guild.id, None, actor_id=interaction.user.id
            )
        else:
            await service.stop_log_category(
                interaction.guild.id, interaction.user.id, chosen, cache=self.bot.guild_configs
            )
        await interaction.response.send_message(
            _("The {category} log is off.").format(category=_(LOG_CATEGORY_LABELS[chosen])),
            ephemeral=True,
        )

    @server_log.command(name="show", description="Show where each log category is posted.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def logging_show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        config = await self.bot.guild_configs.get(interaction.guild.id)
        modlog = (await moderation.get_settings(interaction.guild.id)).modlog_channel_id
        channel = f"<#{config.logging_channel_id}>" if config.logging_channel_id else _("not set")
        state = _("On") if config.logging_enabled else _("Off")
        embed = discord.Embed(
            title=_("Server log"),
            description=_(
                "**{state}** · log channel {channel} (categories without a channel "
                "of their own, and security alerts)"
            ).format(state=state, channel=channel),
            colour=COLOUR_INFO,
        )
        for category in LogCategory:
            embed.add_field(
                name=_(LOG_CATEGORY_LABELS[category]),
                value=describe_category(config, category, modlog),
                inline=False,
            )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @server_log.command(name="disable", description="Stop the server log (alerts still go there).")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def logging_disable(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        await service.disable_logging(
            interaction.guild.id, interaction.user.id, cache=self.bot.guild_configs
        )
        await interaction.response.send_message(
            _("The server log is off. Security alerts still go to its channel."), ephemeral=True
        )


def describe_category(config: GuildConfig, category: LogCategory, modlog_id: int | None) -> str:
    """Where a category posts and which of its events it reports, for `/logging show`."""
    if category is LogCategory.MODERATION:
        if modlog_id:
            return _("Cases in {channel}").format(channel=f"<#{modlog_id}>")
        return _("Off (no modlog channel)")
    events = service.category_events(category)
    if not config.logs_category(category):
        return _("Off")
    channel = config.category_channel(category)
    where = f"<#{channel}>" if channel else _("⚠️ no channel")
    reported = ", ".join(
        _(LOG_EVENT_LABELS[event]) for event in events if event in config.logging_events
    )
    return _("In {channel}: {events}").format(channel=where, events=reported)


def check_autorole(role: discord.Role, invoker: discord.Member) -> None:
    """Refuse roles the bot cannot give, or the invoker could not give themselves."""
    me = role.guild.me
    service.require_can_be_autorole(
        role_facts(role),
        bot_can_manage_roles=me.guild_permissions.manage_roles,
        bot_top_role=role_facts(me.top_role),
        invoker=configurer(invoker),
    )


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Community(bot))
