"""Anti-raid, anti-spam, the command rate limit, security incidents and API keys.

The rules live in pegasus.services.security; this module feeds it joins, messages and commands,
and shows the results: alerts in the log channel, refusals, incident and key embeds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import utcnow

from pegasus.bot import MessagePhase, MessageVerdict, Pegasus
from pegasus.errors import CooldownActive, ValidationError
from pegasus.i18n import N_, _, for_guild, format_number, ngettext, pgettext
from pegasus.outage import DatabaseUnavailable, within
from pegasus.services import security as service
from pegasus.services.audit import Severity
from pegasus.services.community import GuildConfig, LogEvent
from pegasus.services.durations import format_duration, parse_duration
from pegasus.services.security import (
    COMMANDS_ENDPOINT,
    ApiKeyRecord,
    CommandRateLimiter,
    Incident,
    IncidentStatus,
    RaidReport,
    RateDecision,
    SecurityConfig,
    SpamDetector,
    SpamVerdict,
)
from pegasus.services.security import SETTINGS as SECURITY
from pegasus.ui.checks import MANAGE_SERVER
from pegasus.ui.format import BLURPLE, GREEN, ORANGE, RED, clip, timestamp, user_mentions
from pegasus.ui.logpost import post_log, post_to_channel, sendable_text_channel
from pegasus.ui.logreaders import security_action_choices, show_security_log
from pegasus.ui.roles import pingable_roles, remember_role_setup
from pegasus.ui.views import confirm

log = logging.getLogger(__name__)

# The rate limit decides in memory; recording a violation waits at most this long for the
# database, so a refusal is never late because the database is slow.
RECORD_VIOLATION_WAIT = 1.5

COLOUR_ALERT = RED
COLOUR_WARN = ORANGE
COLOUR_INFO = BLURPLE
COLOUR_OK = GREEN
# Commands per person: a person clicking as fast as they can stays under it; a script does not.
COMMAND_LIMIT = 8
COMMAND_WINDOW_SECONDS = 10.0
# At most one "your message was removed" notice per member in this many seconds.
SPAM_NOTICE_INTERVAL = 30.0
SHOWN_RAIDERS = 25

STATUS_ICONS = {
    IncidentStatus.OPEN: "🔴",
    IncidentStatus.INVESTIGATING: "🟠",
    IncidentStatus.RESOLVED: "🟢",
    IncidentStatus.FALSE_POSITIVE: "⚪",
}
INCIDENT_ID_HELP = "The incident's id, e.g. I-7K2QX"
SEVERITY_NAMES = {
    Severity.LOW: N_("Low"),
    Severity.MEDIUM: N_("Medium"),
    Severity.HIGH: N_("High"),
    Severity.CRITICAL: N_("Critical"),
}
INCIDENT_TYPES = {"raid": N_("raid")}


def on_off(value: bool) -> str:
    return _("on") if value else _("off")


def severity_name(severity: str) -> str:
    try:
        return _(SEVERITY_NAMES[Severity(severity)])
    except ValueError:
        return str(severity).capitalize()


def incident_type(incident: Incident) -> str:
    kind = str(incident.type)
    return _(INCIDENT_TYPES[kind]) if kind in INCIDENT_TYPES else kind


def status_label(incident: Incident) -> str:
    status = incident.status
    return f"{STATUS_ICONS[status]} {service.status_label(status)}"


def rate_refusal(decision: RateDecision) -> str:
    """What a person sending commands too fast reads."""
    if decision.blocked_until is not None:
        return _(
            "You are sending commands too fast, again: commands are blocked for you until {time}."
        ).format(time=timestamp(decision.blocked_until))
    seconds = max(1, math.ceil(decision.retry_after))
    return _("Slow down! You are sending commands too fast. Try again in {duration}.").format(
        duration=format_duration(seconds)
    )


def describe_scopes(scopes: Iterable[str]) -> str:
    return ", ".join(f"`{scope}`" for scope in scopes) or _("none")


def mentions(user_ids: Sequence[int], limit: int = SHOWN_RAIDERS) -> str:
    shown = user_mentions(list(user_ids[:limit]), separator=" ")
    more = len(user_ids) - limit
    if more <= 0:
        return shown
    return shown + _(" and {count} more").format(count=format_number(more))


def incident_embed(incident: Incident) -> discord.Embed:
    embed = discord.Embed(
        title=_("Incident {incident}: {type}").format(
            incident=incident.incident_id, type=incident_type(incident)
        ),
        description=incident.description or None,
        colour=COLOUR_ALERT if incident.is_open else COLOUR_OK,
    )
    embed.add_field(name=_("Status"), value=status_label(incident))
    embed.add_field(name=_("Severity"), value=severity_name(incident.severity))
    embed.add_field(name=_("Opened"), value=timestamp(incident.created_at))
    if incident.affected_users:
        embed.add_field(
            name=_("Members involved ({count})").format(
                count=format_number(len(incident.affected_users))
            ),
            value=clip(mentions(incident.affected_users)),
            inline=False,
        )
    if incident.resolved_at is not None:
        by = incident.resolved_by_id
        closed = timestamp(incident.resolved_at)
        embed.add_field(
            name=_("Closed"),
            value=_("{time} by {member}").format(time=closed, member=f"<@{by}>") if by else closed,
            inline=False,
        )
    for note in incident.notes[-5:]:
        at = datetime.fromisoformat(note["at"])
        embed.add_field(
            name=_("Note {time}").format(time=timestamp(at, "f")),
            value=clip(f"<@{note['by']}>: {note['text']}"),
            inline=False,
        )
    if len(incident.notes) > 5:
        embed.set_footer(
            text=_("Showing the last 5 of {count} notes").format(count=len(incident.notes))
        )
    return embed


def key_line(key: ApiKeyRecord) -> str:
    scope = _("server `{id}`").format(id=key.guild_id) if key.guild_id else _("bot-wide")
    state = pgettext("api key", "active") if key.active else pgettext("api key", "revoked")
    if key.active and key.expires_at is not None:
        state = _("expires {time}").format(time=timestamp(key.expires_at))
    used = (
        _("used {count}×, last {time}").format(
            count=format_number(key.usage_count), time=timestamp(key.last_used_at)
        )
        if key.last_used_at
        else _("never used")
    )
    return _("{key} · {scope} · {state}\n{scopes} · {used} · owner {owner}").format(
        key=f"`{key.key_prefix}…` **{discord.utils.escape_markdown(key.name)}**",
        scope=scope,
        state=state,
        scopes=describe_scopes(key.scopes),
        used=used,
        owner=f"<@{key.owner_id}>",
    )


class Security(commands.Cog):
    """Watches joins and messages for raids and spam, limits command rates, manages API keys."""

    security_group = app_commands.Group(
        name="security",
        description="Anti-raid, anti-spam and security incidents.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )
    apikey = app_commands.Group(
        name="apikey",
        description="Keys for Pegasus' REST API (bot owners and server admins).",
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        self.limiter = CommandRateLimiter(COMMAND_LIMIT, COMMAND_WINDOW_SECONDS)
        self.spam = SpamDetector()
        self.raids = service.RaidDetector()
        self._spam_notices: dict[tuple[int, int], float] = {}

    async def cog_load(self) -> None:
        self.bot.guild_configs.clear()  # this bot's database may not be the one the copy came from
        for user_id, until in await service.active_blocks(utcnow()):
            self.limiter.block(user_id, until)
        await service.resume_raids(self.raids, utcnow(), self.bot.owns_guild)
        self.bot.pegasus_tree.interaction_checks.append(self.limit_command_rate)
        self.bot.add_message_hook(self.on_message, MessagePhase.SECURITY)

    async def cog_unload(self) -> None:
        self.bot.remove_message_hook(self.on_message)
        checks = self.bot.pegasus_tree.interaction_checks
        if self.limit_command_rate in checks:
            checks.remove(self.limit_command_rate)

    def is_bot_owner(self, user: discord.abc.User) -> bool:
        return user.id in self.bot.settings.owner_ids

    # --------------------------------------------------------------------------------------------
    # The command rate limit (runs before every slash command and persistent button)

    async def limit_command_rate(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.application_command:
            return  # buttons are limited by Discord; autocomplete is typing, not commands
        if self.is_bot_owner(interaction.user):
            return
        now = utcnow()
        decision = self.limiter.hit(interaction.user.id, now)
        if decision.allowed:
            return
        if decision.record:  # once per burst: a flood of refusals writes one row update
            command = interaction.command.qualified_name if interaction.command else "?"
            record = service.record_rate_limit_violation(
                endpoint=COMMANDS_ENDPOINT,
                now=now,
                user_id=interaction.user.id,
                guild_id=interaction.guild_id,
                blocked_until=decision.blocked_until,
                metadata={"command": command, "strikes": decision.strikes},
            )
            try:
                await within(record, RECORD_VIOLATION_WAIT)
            except DatabaseUnavailable:
                pass  # the refusal is decided in memory and stands; only its record is lost
        raise CooldownActive(
            rate_refusal(decision), retry_at=now.timestamp() + decision.retry_after
        )

    # --------------------------------------------------------------------------------------------
    # Anti-raid

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        config = await self.bot.guild_configs.get(member.guild.id)
        report = await service.handle_join(
            member.guild.id, member.id, utcnow(), config.security, detector=self.raids
        )
        if report is not None and report.created:
            with for_guild(member.guild.id):  # an alert to the server's staff
                await self.alert_raid(member.guild, config, report)
        # The raid response (cogs.raid_response) acts on the wave, or gates a join in a raid.
        self.bot.dispatch("raid_join_checked", member, report)

    async def alert_raid(
        self, guild: discord.Guild, config: GuildConfig, report: RaidReport
    ) -> None:
        channel = sendable_text_channel(guild, config.alerts_channel_id)
        if channel is None:
            log.warning(
                "Raid %s in guild %s: no log channel to alert", report.incident_id, guild.id
            )
            return
        settings = config.security
        pingable = await pingable_roles(guild, [settings.alert_role_id or 0])
        role = pingable[0] if pingable else None
        embed = discord.Embed(
            title=_("🚨 Raid detected"),
            description=_(
                "{count} members joined within {seconds} seconds (the limit is {limit}). Members "
                "who join while it goes on are added to incident **{incident}**."
            ).format(
                count=format_number(len(report.added_user_ids)),
                seconds=settings.raid_seconds,
                limit=settings.raid_joins,
                incident=report.incident_id,
            ),
            colour=COLOUR_ALERT,
            timestamp=utcnow(),
        )
        embed.add_field(name=_("Members"), value=clip(mentions(list(report.added_user_ids))))
        embed.add_field(
            name=_("Next steps"),
            value=_(
                "`/security incident {incident}` to follow it, `/security resolve {incident}` "
                "once handled."
            ).format(incident=report.incident_id),
            inline=False,
        )
        message = await post_to_channel(
            channel,
            content=role.mention if role else None,
            embed=embed,
            allowed_mentions=discord.AllowedMentions(roles=[role] if role else False),
        )
        if message is not None:
            await service.record_incident_action(
                report.incident_pk,
                {"type": "alert", "channel_id": channel.id, "message_id": message.id},
                utcnow(),
            )

    # --------------------------------------------------------------------------------------------
    # Anti-spam

    async def on_message(self, message: discord.Message) -> MessageVerdict | None:
        """A message hook (see Pegasus.add_message_hook), run before the other features': a
        message removed as spam reaches none of them (so it earns no XP)."""
        if message.guild is None or message.author.bot or message.webhook_id is not None:
            return None
        config = await self.bot.guild_configs.get(message.guild.id)  # memory, unless stale
        if not config.security.spam_protection_on:
            return None
        author = message.author
        if isinstance(author, discord.Member) and (
            author.guild_permissions.manage_messages or author.guild_permissions.administrator
        ):
            return None  # staff may ping and repeat themselves
        verdict = self.spam.check(
            message.guild.id, author.id, message.content, message.created_at, config.security
        )
        if verdict is None:
            return None
        with for_guild(message.guild.id):  # the notice and the log post are for everyone
            await self.stop_spam(message, config, verdict)
        return MessageVerdict.REMOVED

    async def stop_spam(
        self, message: discord.Message, config: GuildConfig, verdict: SpamVerdict
    ) -> None:
        assert message.guild is not None
        try:
            await message.delete()
            deleted = True
        except discord.NotFound:
            deleted = True  # someone was faster
        except discord.HTTPException as error:
            log.warning("Could not delete spam in guild %s: %s", message.guild.id, error)
            deleted = False
        await service.record_spam(
            message.guild.id,
            message.author.id,
            verdict,
            channel_id=message.channel.id,
            message_id=message.id,
            deleted=deleted,
        )
        if deleted and self._may_notify(message.guild.id, message.author.id, message.created_at):
            await post_to_channel(
                message.channel,
                content=_("{member}, your message was removed: {reason}.").format(
                    member=message.author.mention, reason=verdict.reason()
                ),
                allowed_mentions=discord.AllowedMentions(users=[message.author]),
            )
        embed = discord.Embed(
            title=_("Spam removed") if deleted else _("Spam seen (I could not delete it)"),
            description=_("{member} in {channel}: {reason}.").format(
                member=message.author.mention,
                channel=message.channel.mention,  # type: ignore[union-attr]
                reason=verdict.reason(),
            ),
            colour=COLOUR_WARN,
        )
        embed.add_field(
            name=_("Message"), value=clip(message.content or _("*no text*")), inline=False
        )
        embed.set_footer(text=_("User id {id}").format(id=message.author.id))
        await post_log(message.guild, config, LogEvent.AUTOMOD, embed)

    def _may_notify(self, guild_id: int, user_id: int, at: datetime) -> bool:
        moment = at.timestamp()
        key = (guild_id, user_id)
        last = self._spam_notices.get(key)
        if last is not None and moment - last < SPAM_NOTICE_INTERVAL:
            return False
        if len(self._spam_notices) > 10_000:  # forget old notices rather than grow for ever
            self._spam_notices = {
                k: t for k, t in self._spam_notices.items() if moment - t < SPAM_NOTICE_INTERVAL
            }
        self._spam_notices[key] = moment
        return True

    # --------------------------------------------------------------------------------------------
    # /security

    @security_group.command(name="settings", description="Show the anti-raid and anti-spam setup.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def security_settings(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        config = await self.bot.guild_configs.get(interaction.guild.id)
        await interaction.response.send_message(
            embed=self.settings_embed(interaction.guild, config.security, config), ephemeral=True
        )

    @staticmethod
    def settings_embed(
        guild: discord.Guild, settings: SecurityConfig, config: GuildConfig
    ) -> discord.Embed:
        embed = discord.Embed(
            title=_("Security"),
            description=_("Security is **{state}**.").format(state=on_off(settings.enabled)),
            colour=COLOUR_INFO,
        )
        embed.add_field(
            name=_("Anti-raid: {state}").format(state=on_off(settings.anti_raid_enabled)),
            value=_("A raid is more than {joins} joins within {seconds} seconds.").format(
                joins=settings.raid_joins, seconds=settings.raid_seconds
            ),
            inline=False,
        )
        embed.add_field(
            name=_("Anti-spam: {state}").format(state=on_off(settings.anti_spam_enabled)),
            value=_(
                "Removes messages with more than {mentions} mentions, or the same text "
                "{repeats} times in a row."
            ).format(mentions=settings.max_mentions, repeats=settings.max_duplicates),
            inline=False,
        )
        role = f"<@&{settings.alert_role_id}>" if settings.alert_role_id else _("nobody")
        channel = sendable_text_channel(guild, config.alerts_channel_id)
        where = channel.mention if channel else _("⚠️ no log channel: set one with `/logging set`")
        embed.add_field(
            name=_("Alerts"),
            value=_("In {channel}, pinging {role}.").format(channel=where, role=role),
            inline=False,
        )
        return embed

    @security_group.command(name="set", description="Change the anti-raid and anti-spam settings.")
    @app_commands.describe(
        enabled=SECURITY["security_enabled"].help,
        anti_raid=SECURITY["anti_raid_enabled"].help,
        anti_spam=SECURITY["anti_spam_enabled"].help,
        alert_role=SECURITY["security_alert_role_id"].help,
        clear_alert_role="Ping nobody on raids",
        **SECURITY.help_for("raid_joins", "raid_seconds", "max_mentions", "max_duplicates"),
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def security_set(
        self,
        interaction: discord.Interaction,
        enabled: bool | None = None,
        anti_raid: bool | None = None,
        raid_joins: app_commands.Range[int, *SECURITY.bounds("raid_joins")] | None = None,
        raid_seconds: app_commands.Range[int, *SECURITY.bounds("raid_seconds")] | None = None,
        anti_spam: bool | None = None,
        max_mentions: app_commands.Range[int, *SECURITY.bounds("max_mentions")] | None = None,
        max_duplicates: app_commands.Range[int, *SECURITY.bounds("max_duplicates")] | None = None,
        alert_role: discord.Role | None = None,
        clear_alert_role: bool = False,
    ) -> None:
        assert interaction.guild is not None
        if alert_role is not None and clear_alert_role:
            raise ValidationError(_("Choose an alert role or clear it, not both."))
        role_change: dict[str, int | None] = {}
        if alert_role is not None:
            role_change["alert_role_id"] = alert_role.id
        elif clear_alert_role:
            role_change["alert_role_id"] = None
        settings = await service.update_security_settings(
            interaction.guild.id,
            interaction.user.id,
            enabled=enabled,
            anti_raid=anti_raid,
            raid_joins=raid_joins,
            raid_seconds=raid_seconds,
            anti_spam=anti_spam,
            max_mentions=max_mentions,
            max_duplicates=max_duplicates,
            **role_change,
        )
        if alert_role is not None:
            # Pinged on raids only if mentionable or if this member could mention it.
            assert isinstance(interaction.user, discord.Member)
            await remember_role_setup(alert_role, interaction.user)
        self.bot.guild_configs.invalidate(interaction.guild.id)  # the hot paths' copy
        config = await self.bot.guild_configs.get(interaction.guild.id)
        await interaction.response.send_message(
            _("Security settings saved."),
            embed=self.settings_embed(interaction.guild, settings, config),
            ephemeral=True,
        )

    @security_group.command(name="log", description="Read the security log, newest first.")
    @app_commands.describe(
        member="Only events about this member",
        severity="Only events of this severity",
        event="Only this event, e.g. moderation.ban, or a family: moderation.*",
        page="The page to show",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def security_log(
        self,
        interaction: discord.Interaction,
        member: discord.User | None = None,
        severity: Severity | None = None,
        event: app_commands.Range[str, 1, 40] | None = None,
        page: app_commands.Range[int, 1, 100_000] = 1,
    ) -> None:
        await show_security_log(interaction, page, member.id if member else None, severity, event)

    @security_log.autocomplete("event")
    async def _security_log_events(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await security_action_choices(interaction.guild_id or 0, current)

    @security_group.command(name="incidents", description="List this server's security incidents.")
    @app_commands.describe(open_only="Only incidents still open or under investigation")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def security_incidents(
        self, interaction: discord.Interaction, open_only: bool = False
    ) -> None:
        assert interaction.guild is not None
        incidents = await service.list_incidents(interaction.guild.id, open_only=open_only)
        embed = discord.Embed(title=_("Security incidents"), colour=COLOUR_INFO)
        if not incidents:
            embed.description = _("No open incidents.") if open_only else _("No incidents so far.")
        for incident in incidents:
            count = len(incident.affected_users)
            embed.add_field(
                name=f"{incident.incident_id} · {incident_type(incident)} · "
                f"{status_label(incident)}",
                value=ngettext(
                    "Opened {time} · {count} member · {severity} severity",
                    "Opened {time} · {count} members · {severity} severity",
                    count,
                ).format(
                    time=timestamp(incident.created_at),
                    count=format_number(count),
                    severity=severity_name(incident.severity).lower(),
                ),
                inline=False,
            )
        if len(incidents) == 10:
            embed.set_footer(text=_("The 10 most recent"))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @security_group.command(name="incident", description="Show one incident in full.")
    @app_commands.describe(incident_id=INCIDENT_ID_HELP)
    @app_commands.rename(incident_id="id")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def security_incident(self, interaction: discord.Interaction, incident_id: str) -> None:
        assert interaction.guild is not None
        incident = await service.get_incident(interaction.guild.id, incident_id)
        await interaction.response.send_message(embed=incident_embed(incident), ephemeral=True)

    @security_group.command(name="note", description="Add an investigation note to an incident.")
    @app_commands.describe(incident_id=INCIDENT_ID_HELP, text="What you found or did")
    @app_commands.rename(incident_id="id")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def security_note(
        self,
        interaction: discord.Interaction,
        incident_id: str,
        text: app_commands.Range[str, 1, 1000],
    ) -> None:
        assert interaction.guild is not None
        incident = await service.add_incident_note(
            interaction.guild.id, incident_id, interaction.user.id, text, utcnow()
        )
        await interaction.response.send_message(
            _("Note added to **{incident}** ({status}).").format(
                incident=incident.incident_id, status=status_label(incident)
            ),
            embed=incident_embed(incident),
            ephemeral=True,
        )

    @security_group.command(name="resolve", description="Close an incident.")
    @app_commands.describe(
        incident_id=INCIDENT_ID_HELP,
        false_positive="It was not a real attack (closes it as a false positive)",
    )
    @app_commands.rename(incident_id="id")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def security_resolve(
        self, interaction: discord.Interaction, incident_id: str, false_positive: bool = False
    ) -> None:
        assert interaction.guild is not None
        incident = await service.resolve_incident(
            interaction.guild.id,
            incident_id,
            interaction.user.id,
            utcnow(),
            false_positive=false_positive,
        )
        if false_positive:
            closed = _("Incident **{incident}** is closed as a false positive.")
        else:
            closed = _("Incident **{incident}** is closed as resolved.")
        await interaction.response.send_message(
            closed.format(incident=incident.incident_id),
            embed=incident_embed(incident),
            ephemeral=True,
        )

    # --------------------------------------------------------------------------------------------
    # /apikey

    def is_guild_admin(self, interaction: discord.Interaction) -> bool:
        user = interaction.user
        return isinstance(user, discord.Member) and user.guild_permissions.administrator

    @apikey.command(name="create", description="Create a key for the REST API (shown only once).")
    @app_commands.describe(
        name="A name to recognise the key by, e.g. dashboard",
        scopes="What it may do: read, all, or e.g. economy:read levels:read",
        expires_in="How long it lasts, e.g. 30d or 1w (never expires if empty)",
        bot_wide="Bot owners only: a key for every server rather than this one",
    )
    async def apikey_create(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 64],
        scopes: str,
        expires_in: str | None = None,
        bot_wide: bool = False,
    ) -> None:
        chosen = service.parse_scopes(scopes)
        lifetime = (
            parse_duration(
                expires_in, minimum=service.MIN_KEY_LIFETIME, maximum=service.MAX_KEY_LIFETIME
            )
            if expires_in
            else None
        )
        if not bot_wide and interaction.guild_id is None:
            raise ValidationError(_("In a direct message, only bot-wide keys can be made."))
        created = await service.create_api_key(
            owner_id=interaction.user.id,
            name=name,
            scopes=chosen,
            guild_id=None if bot_wide else interaction.guild_id,
            now=utcnow(),
            is_bot_owner=self.is_bot_owner(interaction.user),
            is_guild_admin=self.is_guild_admin(interaction),
            expires_in_seconds=lifetime,
        )
        key = created.key
        expiry = (
            _("It expires {time} ({duration}).").format(
                time=timestamp(key.expires_at), duration=format_duration(lifetime or 0)
            )
            if key.expires_at
            else _("It never expires; revoke it with `/apikey revoke` when it is no longer needed.")
        )
        await interaction.response.send_message(
            _(
                "🔑 API key **{name}** created. Copy it now: it will not be shown again.\n"
                "```\n{secret}\n```Scopes: {scopes}. {expiry}\n"
                "It appears as `{prefix}…` in `/apikey list`."
            ).format(
                name=discord.utils.escape_markdown(key.name),
                secret=created.secret,
                scopes=describe_scopes(key.scopes),
                expiry=expiry,
                prefix=key.key_prefix,
            ),
            ephemeral=True,
        )

    @apikey.command(name="list", description="List the API keys you may see.")
    async def apikey_list(self, interaction: discord.Interaction) -> None:
        keys = await service.list_api_keys(
            viewer_id=interaction.user.id,
            guild_id=interaction.guild_id,
            is_bot_owner=self.is_bot_owner(interaction.user),
            is_guild_admin=self.is_guild_admin(interaction),
        )
        embed = discord.Embed(title=_("API keys"), colour=COLOUR_INFO)
        if not keys:
            embed.description = _("No keys. Create one with `/apikey create`.")
        else:
            lines = [key_line(key) for key in keys[:15]]
            embed.description = clip("\n\n".join(lines), 4000)
            if len(keys) > 15:
                embed.set_footer(
                    text=_("The 15 newest of {count}").format(count=format_number(len(keys)))
                )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @apikey.command(name="revoke", description="Revoke an API key at once (cannot be undone).")
    @app_commands.describe(key="The key's prefix as /apikey list shows it (pgs_…) or its id")
    async def apikey_revoke(self, interaction: discord.Interaction, key: str) -> None:

        async def revoke(answer: discord.Interaction) -> None:
            revoked = await service.revoke_api_key(
                key,
                actor_id=interaction.user.id,
                guild_id=interaction.guild_id,
                is_bot_owner=self.is_bot_owner(interaction.user),
                is_guild_admin=self.is_guild_admin(interaction),
            )
            await answer.response.edit_message(
                content=_("Revoked the key `{prefix}…` (**{name}**).").format(
                    prefix=revoked.key_prefix, name=discord.utils.escape_markdown(revoked.name)
                ),
                view=None,
            )

        await confirm(
            interaction,
            _(
                "Revoke the API key `{key}`? Programs using it stop working at once; this "
                "cannot be undone."
            ).format(key=key.strip()),
            revoke,
            confirm_label=N_("Revoke key"),
        )


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Security(bot))
