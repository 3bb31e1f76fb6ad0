"""Raid response, /lock, /unlock, /slowmode and the verification gate.

Anti-raid detection is the security cog's; it tells this cog about every join it checked
(`raid_join_checked`). The rules and what must be remembered live in pegasus.services.raids; this
module acts on Discord: overwrites, slowmodes, kicks and bans, the "Verify" button.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import utcnow

from models.moderation import CaseType
from models.scheduling import ScheduledAction
from pegasus import notify
from pegasus.bot import Pegasus
from pegasus.errors import (
    ConflictError,
    PermissionDenied,
    ValidationError,
    channel_ref,
)
from pegasus.i18n import N_, _, for_guild, format_number, ngettext
from pegasus.services import moderation
from pegasus.services import raids as service
from pegasus.services.cache import TtlCache
from pegasus.services.durations import format_duration, parse_duration
from pegasus.services.raids import (
    MAX_SLOWMODE_SECONDS,
    RAID,
    VERIFICATION,
    Joiner,
    Overwrite,
    RaidAction,
    RaidConfig,
    VerificationConfig,
)
from pegasus.services.security import RaidReport, record_incident_action
from pegasus.ui.checks import (
    MANAGE_SERVER,
    and_join,
    require_bot_can_post,
    require_member_can_see,
)
from pegasus.ui.dynamic import PegasusButton
from pegasus.ui.format import BLURPLE, GREEN, RED, clip, timestamp
from pegasus.ui.logpost import post_alert, post_to_channel, sendable_text_channel
from pegasus.ui.roles import remember_role_setup, require_can_delegate, vet_grants

log = logging.getLogger(__name__)

MANAGE_CHANNELS = discord.Permissions(manage_channels=True)
# A member with any of these is staff: a raid response never touches them.
STAFF_PERMISSIONS = (
    "administrator",
    "manage_guild",
    "manage_roles",
    "manage_channels",
    "manage_messages",
    "kick_members",
    "ban_members",
    "moderate_members",
)
CONFIG_TTL = 60.0
BULK_BAN_LIMIT = 200
VERIFY_LABEL = N_("Verify")
ALERT_INTERVAL = 30.0  # seconds between two posts about one raid's response
GATE_ALERT_INTERVAL = 600.0  # seconds between two posts about a server's broken gate
# The moderation extension's cog, whose Enforcer posts cases to the modlog.
MODERATION_COG = "Moderation actions"
# A raid wave larger than this is one modlog post listing its cases, not a post per member.
CASES_POSTED_ONE_BY_ONE = 10
DESCRIPTION_LIMIT = 4096
RAID_ACTION_NAMES = {
    RaidAction.NONE: N_("none"),
    RaidAction.KICK: N_("kick"),
    RaidAction.BAN: N_("ban"),
}


def is_staff(member: discord.Member) -> bool:
    """Staff: the owner, a member with a moderation permission, or one not below the bot."""
    if member.id == member.guild.owner_id:
        return True
    permissions = member.guild_permissions
    if any(getattr(permissions, name) for name in STAFF_PERMISSIONS):
        return True
    return member.top_role >= member.guild.me.top_role


def young_reason(days: int, incident_id: str) -> str:
    return ngettext(
        "Account younger than {days} day during raid {incident}",
        "Account younger than {days} days during raid {incident}",
        days,
    ).format(days=days, incident=incident_id)


def is_verified(member: discord.Member, config: VerificationConfig) -> bool:
    roles = {role.id for role in member.roles}
    has_verified = config.verified_role_id is None or config.verified_role_id in roles
    lacks_unverified = config.unverified_role_id is None or config.unverified_role_id not in roles
    return has_verified and lacks_unverified


def everyone_overwrite(channel: discord.abc.GuildChannel) -> Overwrite | None:
    """The channel's @everyone overwrite as Discord has it, or None when there is none."""
    overwrite = channel.overwrites.get(channel.guild.default_role)
    if overwrite is None:
        return None
    allow, deny = overwrite.pair()
    return Overwrite(allow.value, deny.value)


def as_discord(overwrite: Overwrite) -> discord.PermissionOverwrite:
    return discord.PermissionOverwrite.from_pair(
        discord.Permissions(overwrite.allow), discord.Permissions(overwrite.deny)
    )


def mentions(channels: Sequence[discord.abc.GuildChannel]) -> str:
    return and_join([channel.mention for channel in channels]) or _("no channel")


def require_can_lock(channel: discord.TextChannel) -> None:
    mine = channel.permissions_for(channel.guild.me)
    missing = [
        name
        for name, granted in (
            (_("Manage Channels"), mine.manage_channels),
            (_("Manage Roles"), mine.manage_roles),
        )
        if not granted
    ]
    if missing:
        raise PermissionDenied(
            _("I can't change {{channel}}: I need {permissions} there.").format(
                permissions=and_join(missing)
            ),
            channel=channel_ref(channel.id),
        )


def require_invoker_can_manage(
    member: discord.Member, channels: Sequence[discord.TextChannel]
) -> None:
    """Refuse unless `member` has Manage Channels in each of `channels`.

    Discord checks a slash command's permission in the channel it is typed in, so a member who
    manages one channel could otherwise lock, unlock or slow down channels they can't manage.
    """
    refused = [c for c in channels if not c.permissions_for(member).manage_channels]
    if refused:
        raise PermissionDenied(
            ngettext(
                "You need the Manage Channels permission in {channels} to change it.",
                "You need the Manage Channels permission in {channels} to change them.",
                len(refused),
            ).format(channels=mentions(refused))
        )


def manageable_by(
    member: discord.Member, channels: Sequence[discord.TextChannel]
) -> tuple[list[discord.TextChannel], list[discord.TextChannel]]:
    """`channels` split into those `member` has Manage Channels in and the others."""
    mine = [c for c in channels if c.permissions_for(member).manage_channels]
    return mine, [c for c in channels if c not in mine]


def require_server_wide_manage_channels(member: discord.Member) -> None:
    if not member.guild_permissions.manage_channels:
        raise PermissionDenied(
            _(
                "Locking or unlocking the whole server needs the Manage Channels permission "
                "server-wide (from a role), not only in this channel."
            )
        )


def parse_slowmode(text: str) -> int:
    cleaned = text.strip().lower()
    if cleaned in ("off", "none"):
        return 0
    # minimum=0: a zero as the settings show it ("0s", German "0 Sek.") turns slowmode off too.
    return parse_duration(cleaned, maximum=MAX_SLOWMODE_SECONDS, minimum=0)


async def post_case_summary(
    guild: discord.Guild, cases: Sequence[moderation.Case], reason: str
) -> None:
    """One modlog post for a wave of cases: each case's number and member."""
    settings = await moderation.get_settings(guild.id)
    channel = sendable_text_channel(guild, settings.modlog_channel_id)
    if channel is None:
        return
    kind = cases[0].type
    lines = "\n".join(f"`#{case.case_number}` <@{case.user_id}>" for case in cases)
    embed = discord.Embed(
        title=ngettext("{count} case · {type}", "{count} cases · {type}", len(cases)).format(
            count=format_number(len(cases)), type=kind.capitalize()
        ),
        description=clip(
            _("**Reason:** {reason}").format(reason=reason) + f"\n{lines}", DESCRIPTION_LIMIT
        ),
        colour=RED,
        timestamp=utcnow(),
    )
    await post_to_channel(channel, embed=embed)


@dataclass(frozen=True, slots=True)
class GateFault:
    """Why the gate can't be passed: the member's refusal, and what the staff are told (in the
    server's language, rendered where posted), each English marked for the catalogs."""

    member_text: str
    staff_text: str
    role: str = ""  # the role mention the staff's text names

    @property
    def for_member(self) -> str:
        return _(self.member_text)

    @property
    def for_staff(self) -> str:
        return _(self.staff_text).format(role=self.role)


def gate_fault(member: discord.Member, config: VerificationConfig) -> GateFault | None:
    """Why `member` can't pass the gate as the server is set up now (nothing half-done: checked
    before any role changes), or None."""
    guild = member.guild
    if config.verified_role_id is not None and guild.get_role(config.verified_role_id) is None:
        return GateFault(
            N_(
                "This server's verified role was deleted, so I can't verify you; the staff have "
                "been told. Try again later."
            ),
            N_(
                "The verified role of the verification gate was deleted: choose one with "
                "`/verification set verified_role:`."
            ),
        )
    unverified = guild.get_role(config.unverified_role_id or 0)
    if unverified is not None and unverified in member.roles and not unverified.is_assignable():
        return GateFault(
            N_(
                "I can't take your unverified role away, so I can't verify you; the staff have "
                "been told. Try again later."
            ),
            N_(
                "The unverified role {role} is not below my highest role, so I can't take it "
                "away: move my role above it."
            ),
            unverified.mention,
        )
    return None


class VerifyButton(PegasusButton, template=r"pegasus:verify:press:(?P<guild>[0-9]+)"):
    """The "Verify" button of a server's verification message; survives restarts."""

    def __init__(self, guild_id: int) -> None:
        self.guild_id = guild_id
        super().__init__(
            discord.ui.Button(
                label=_(VERIFY_LABEL),
                style=discord.ButtonStyle.success,
                emoji="✅",
                custom_id=f"pegasus:verify:press:{guild_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> VerifyButton:
        return cls(int(match["guild"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog("RaidResponse")  # type: ignore[attr-defined]
        if cog is None or not isinstance(interaction.user, discord.Member):
            raise ConflictError(_("Verification is not available right now; try again later."))
        if interaction.user.guild.id != self.guild_id:
            raise ConflictError(_("This Verify button belongs to another server."))
        await cog.verify(interaction, interaction.user)


class RaidResponse(commands.Cog):
    """What a detected raid sets off, channel lockdowns and slowmode, and the verification gate."""

    raid = app_commands.Group(
        name="raid",
        description="What Pegasus does when anti-raid detects a raid.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )
    verification = app_commands.Group(
        name="verification",
        description="A gate new members pass by pressing Verify.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        self.raid_configs: TtlCache[int, RaidConfig] = TtlCache(service.raid_config, CONFIG_TTL)
        self.gates: TtlCache[int, VerificationConfig] = TtlCache(
            service.verification_config, CONFIG_TTL
        )
        self._unsubscribe = lambda: None
        self._responding: dict[int, asyncio.Lock] = {}
        self._alerted: dict[int, float] = {}  # incident → when its response was last posted
        self._gate_alerted: dict[int, float] = {}  # guild → when its broken gate was posted

    async def cog_load(self) -> None:
        self._unsubscribe = notify.subscribe(self.forget_changed)
        self.bot.scheduler.register(service.TIMEOUT_KIND, self.on_verification_timeout)
        self.bot.add_dynamic_items(VerifyButton)

    async def cog_unload(self) -> None:
        self._unsubscribe()
        self.bot.scheduler.unregister(service.TIMEOUT_KIND)
        self.bot.remove_dynamic_items(VerifyButton)

    async def forget_changed(self, change: notify.Change) -> None:
        if change.topic is notify.Topic.EVERYTHING or change.topic is notify.Topic.SETTINGS:
            self.raid_configs.invalidate(change.guild_id)
            self.gates.invalidate(change.guild_id)

    # --------------------------------------------------------------------------------------------
    # The raid response

    @commands.Cog.listener()
    async def on_raid_join_checked(self, member: discord.Member, report: RaidReport | None) -> None:
        config = await self.raid_configs.get(member.guild.id)
        # Reasons, cases and alerts are for the server's staff: in the server's language.
        with for_guild(member.guild.id):
            if report is None:
                await self.gate_join(member, config)
            elif config.responds:
                lock = self._responding.setdefault(member.guild.id, asyncio.Lock())
                async with lock:
                    await self.respond(member.guild, config, report)

    async def gate_join(self, member: discord.Member, config: RaidConfig) -> None:
        """The account-age gate for a join while a raid lasts (the wave itself is `respond`'s)."""
        now = utcnow()
        if member.bot or not service.too_young(member.created_at, now, config.min_account_days):
            return
        raid = await service.active_raid(member.guild.id, now, config.hold_seconds)
        if raid is None or is_staff(member):
            return
        kicked = await self.remove_members(
            member.guild,
            [member],
            RaidAction.KICK,
            young_reason(config.min_account_days, raid.incident_id),
        )
        if kicked:
            await record_incident_action(
                raid.incident_pk, {"type": "age_gate", "users": kicked}, utcnow()
            )

    async def respond(self, guild: discord.Guild, config: RaidConfig, report: RaidReport) -> None:
        done: list[str] = []
        if report.created and config.lockdown:
            channels = await self.lockdown_channels(guild, config.lockdown_channel_ids)
            locked = await self.lock_channels(
                channels,
                _("Raid {incident}").format(incident=report.incident_id),
                None,
                incident_pk=report.incident_pk,
            )
            if locked:
                done.append(_("locked {channels}").format(channels=mentions(locked)))
                await record_incident_action(
                    report.incident_pk,
                    {"type": "lockdown", "channels": [c.id for c in locked]},
                    utcnow(),
                )
        if report.created and config.slowmode_seconds > 0:
            ids = config.slowmode_channel_ids or config.lockdown_channel_ids
            slowed = await self.raise_slowmode(
                await self.lockdown_channels(guild, ids), config.slowmode_seconds, report
            )
            if slowed:
                done.append(
                    _("set a {duration} slowmode in {channels}").format(
                        duration=format_duration(config.slowmode_seconds),
                        channels=mentions(slowed),
                    )
                )
        removed = await self.act_on_wave(guild, config, report)
        if removed:
            done.append(removed)
        announce = self._may_alert(report) if done or report.created else False
        if done and announce:
            embed = discord.Embed(
                title=_("🛡️ Raid response"),
                description=clip(
                    _("For incident **{incident}**, I {done}.").format(
                        incident=report.incident_id, done=and_join(done)
                    ),
                    4000,
                ),
                colour=RED,
            )
            if report.created and config.lockdown:
                embed.set_footer(text=_("/unlock server:True restores every channel as it was"))
            await post_alert(guild, embed)

    def _may_alert(self, report: RaidReport) -> bool:
        """The raid's first response is posted (with the report that opened the incident, which
        may be handled after later joins'); later ones at most every ALERT_INTERVAL, so a long
        raid does not flood the log (the incident records every action)."""
        moment = utcnow().timestamp()
        last = self._alerted.get(report.incident_pk)
        if not report.created and (last is None or moment - last < ALERT_INTERVAL):
            return False
        self._alerted[report.incident_pk] = moment
        return True

    async def act_on_wave(
        self, guild: discord.Guild, config: RaidConfig, report: RaidReport
    ) -> str | None:
        """Kick or ban the members of the report (never staff nor members from before the
        raid's window); with no action chosen, the age gate still removes young accounts."""
        members = [m for m in map(guild.get_member, report.added_user_ids) if m is not None]
        joiners = [Joiner(m.id, m.joined_at, is_staff(m), m.bot) for m in members]
        chosen = set(service.wave_targets(joiners, report.window_start))
        action = config.action
        now = utcnow()
        if action is RaidAction.NONE:
            if config.min_account_days <= 0:
                return None
            action = RaidAction.KICK
            chosen = {
                m.id
                for m in members
                if m.id in chosen and service.too_young(m.created_at, now, config.min_account_days)
            }
            reason = young_reason(config.min_account_days, report.incident_id)
        else:
            reason = _("Joined in raid {incident}").format(incident=report.incident_id)
        targets = [m for m in members if m.id in chosen]
        if not targets:
            return None
        removed = await self.remove_members(guild, targets, action, reason)
        if not removed:
            return None
        verb = "banned" if action is RaidAction.BAN else "kicked"
        await record_incident_action(report.incident_pk, {"type": verb, "users": removed}, utcnow())
        if action is RaidAction.BAN:
            done = ngettext("banned {count} member", "banned {count} members", len(removed))
        else:
            done = ngettext("kicked {count} member", "kicked {count} members", len(removed))
        return done.format(count=format_number(len(removed)))

    async def record_cases(
        self, guild: discord.Guild, user_ids: Sequence[int], case_type: CaseType, reason: str
    ) -> None:
        """Members the bot removed on its own are cases like a moderator's, with Pegasus as the
        moderator, so `/cases` and the modlog show every removal whoever made it. A large wave
        is one modlog post naming its cases rather than a post per member."""
        assert self.bot.user is not None
        now = utcnow()
        cases = [
            await moderation.record_action(
                guild_id=guild.id,
                case_type=case_type,
                user_id=user_id,
                moderator_id=self.bot.user.id,
                reason=reason,
                now=now,
            )
            for user_id in user_ids
        ]
        enforcer = getattr(self.bot.get_cog(MODERATION_COG), "enforcer", None)
        if enforcer is None or not cases:
            return  # recorded; the moderation extension posts cases when it runs
        if len(cases) <= CASES_POSTED_ONE_BY_ONE:
            for case in cases:
                await enforcer.post_case(guild, case)
            return
        await post_case_summary(guild, cases, reason)

    async def remove_members(
        self,
        guild: discord.Guild,
        members: Sequence[discord.Member],
        action: RaidAction,
        reason: str,
    ) -> list[int]:
        """Kick or ban `members`, each removal a case; the ids Discord accepted."""
        removed = await self.kick_or_ban(guild, members, action, reason)
        case_type = CaseType.BAN if action is RaidAction.BAN else CaseType.KICK
        await self.record_cases(guild, removed, case_type, reason)
        return removed

    async def kick_or_ban(
        self,
        guild: discord.Guild,
        members: Sequence[discord.Member],
        action: RaidAction,
        reason: str,
    ) -> list[int]:
        """Kick or ban `members` on Discord; the ids Discord accepted."""
        # Discord's bulk ban also needs Manage Server; without it, one ban at a time.
        if action is RaidAction.BAN and guild.me.guild_permissions.manage_guild:
            removed: list[int] = []
            for start in range(0, len(members), BULK_BAN_LIMIT):
                batch = members[start : start + BULK_BAN_LIMIT]
                try:
                    result = await guild.bulk_ban(batch, reason=reason, delete_message_seconds=0)
                except discord.HTTPException as error:
                    log.warning("Raid bans refused in guild %s: %s", guild.id, error)
                    continue
                removed.extend(user.id for user in result.banned)
            return removed
        kicked = []
        for member in members:
            try:
                if action is RaidAction.BAN:
                    await guild.ban(member, reason=reason, delete_message_seconds=0)
                else:
                    await guild.kick(member, reason=reason)
            except discord.NotFound:
                continue  # already gone
            except discord.HTTPException as error:
                log.warning("Raid %s of %s refused in %s: %s", action, member.id, guild.id, error)
                continue
            kicked.append(member.id)
        return kicked

    # --------------------------------------------------------------------------------------------
    # Locking, unlocking and slowmode

    async def lockdown_channels(
        self, guild: discord.Guild, channel_ids: Sequence[int]
    ) -> list[discord.TextChannel]:
        """The chosen channels; with none chosen, every text channel @everyone may talk in,
        except the server log (the raid's alerts are posted there)."""
        if channel_ids:
            found = [guild.get_channel(channel_id) for channel_id in channel_ids]
            return [c for c in found if isinstance(c, discord.TextChannel)]
        log_channel = (await self.bot.guild_configs.get(guild.id)).logging_channel_id
        return [
            channel
            for channel in guild.text_channels
            if channel.id != log_channel
            and channel.permissions_for(guild.default_role).send_messages
        ]

    async def lock_channels(
        self,
        channels: Sequence[discord.TextChannel],
        reason: str | None,
        actor_id: int | None,
        *,
        incident_pk: int | None = None,
    ) -> list[discord.TextChannel]:
        """Lock each channel, remembering its @everyone overwrite first; the channels locked.

        A channel already locked keeps the overwrite remembered at its first lock."""
        locked = []
        for channel in channels:
            try:
                await self.lock_channel(channel, reason, incident_pk)
            except (discord.HTTPException, PermissionDenied) as error:
                log.warning("Could not lock channel %s: %s", channel.id, error)
                continue
            locked.append(channel)
        if locked:
            await service.record_lock_change(
                channels[0].guild.id,
                actor_id,
                "channel.lock",
                [channel.id for channel in locked],
                reason=reason,
            )
        return locked

    async def lock_channel(
        self, channel: discord.TextChannel, reason: str | None, incident_pk: int | None
    ) -> None:
        require_can_lock(channel)
        guild = channel.guild
        current = everyone_overwrite(channel)
        known = await service.remembered_lock(guild.id, channel.id)
        if known is None:
            await service.remember_lock(
                guild.id, channel.id, current, reason=reason, incident_pk=incident_pk
            )
        try:
            await channel.set_permissions(
                guild.default_role,
                overwrite=as_discord(
                    # Discord lets a bot allow or deny only what it holds in the server.
                    service.locked_overwrite(current, guild.me.guild_permissions.value)
                ),
                reason=clip(
                    _("Lock: {reason}").format(reason=reason) if reason else _("Lock"), 500
                ),
            )
        except discord.HTTPException:
            if known is None:  # nothing changed on Discord: nothing to restore later
                await service.forget_lock(guild.id, channel.id)
            raise

    async def unlock_channel(self, channel: discord.TextChannel, reason: str | None) -> bool:
        """Restore the channel's @everyone overwrite as it was before its first lock."""
        guild = channel.guild
        remembered = await service.remembered_lock(guild.id, channel.id)
        if remembered is None:
            return False
        require_can_lock(channel)
        overwrite = as_discord(remembered.previous) if remembered.previous else None
        await channel.set_permissions(
            guild.default_role,
            overwrite=overwrite,
            reason=clip(
                _("Unlock: {reason}").format(reason=reason) if reason else _("Unlock"), 500
            ),
        )
        await service.forget_lock(guild.id, channel.id)
        return True

    async def raise_slowmode(
        self, channels: Sequence[discord.TextChannel], seconds: int, report: RaidReport
    ) -> list[discord.TextChannel]:
        slowed = []
        for channel in channels:
            previous = channel.slowmode_delay
            if previous >= seconds:
                continue  # never lowered by a raid
            await service.remember_slowmode(
                channel.guild.id, channel.id, previous, seconds, incident_pk=report.incident_pk
            )
            try:
                await channel.edit(
                    slowmode_delay=seconds,
                    reason=_("Raid {incident}").format(incident=report.incident_id),
                )
            except discord.HTTPException as error:
                log.warning("Could not set slowmode in %s: %s", channel.id, error)
                await service.forget_slowmode(channel.guild.id, channel.id)
                continue
            slowed.append(channel)
        if slowed:
            await record_incident_action(
                report.incident_pk,
                {"type": "slowmode", "seconds": seconds, "channels": [c.id for c in slowed]},
                utcnow(),
            )
        return slowed

    async def restore_slowmodes(
        self,
        guild: discord.Guild,
        *,
        manageable: discord.Member,
        only: discord.TextChannel | None = None,
    ) -> tuple[list[discord.TextChannel], list[discord.TextChannel]]:
        """Put back the slowmodes a raid raised (in `only`, or everywhere) in the channels
        `manageable` (who asked) can manage; the channels restored, and those Discord refused."""
        restored, refused = [], []
        for remembered in await service.remembered_slowmodes(guild.id):
            if only is not None and remembered.channel_id != only.id:
                continue
            channel = guild.get_channel(remembered.channel_id)
            if isinstance(channel, discord.TextChannel):
                if not channel.permissions_for(manageable).manage_channels:
                    continue
                try:
                    await channel.edit(
                        slowmode_delay=remembered.previous_seconds, reason=_("Unlock")
                    )
                except discord.HTTPException as error:
                    # Kept for the next /unlock; the channels unlocked so far stay recorded.
                    log.warning("Could not restore slowmode in %s: %s", channel.id, error)
                    refused.append(channel)
                    continue
                restored.append(channel)
            await service.forget_slowmode(guild.id, remembered.channel_id)
        return restored, refused

    @app_commands.command(name="lock", description="Stop @everyone from talking in a channel.")
    @app_commands.describe(
        channel="The channel to lock (this one if empty)",
        server="Lock every lockdown channel (see /raid settings) instead of one channel",
        reason="Why; shown in the audit log",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_channels=True)
    @app_commands.checks.has_permissions(manage_channels=True)
    async def lock(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        server: bool = False,
        reason: app_commands.Range[str, 1, 400] | None = None,
    ) -> None:
        guild, member = interaction.guild, interaction.user
        assert guild is not None and isinstance(member, discord.Member)
        if server:
            require_server_wide_manage_channels(member)
            config = await self.raid_configs.get(guild.id)
            targets = await self.lockdown_channels(guild, config.lockdown_channel_ids)
            targets, skipped = manageable_by(member, targets)
        else:
            target = channel or interaction.channel
            if not isinstance(target, discord.TextChannel):
                raise ValidationError(_("Choose a text channel to lock."))
            require_invoker_can_manage(member, [target])
            require_can_lock(target)
            targets, skipped = [target], []
        if not targets:
            raise ValidationError(_("There is no channel to lock: choose some with /raid channel."))
        await interaction.response.defer(ephemeral=True, thinking=True)
        already = {lock.channel_id for lock in await service.remembered_locks(guild.id)}
        locked = await self.lock_channels(targets, reason, interaction.user.id)
        failed = [c for c in targets if c not in locked]
        lines = [
            _("🔒 Locked {channels}.").format(channels=mentions(locked))
            if locked
            else _("I locked no channel.")
        ]
        again = [c for c in locked if c.id in already]
        if again:
            lines.append(
                ngettext(
                    "{channels} was already locked: their permissions from before the first "
                    "lock are kept for /unlock.",
                    "{channels} were already locked: their permissions from before the first "
                    "lock are kept for /unlock.",
                    len(again),
                ).format(channels=mentions(again))
            )
        if failed:
            lines.append(
                _("I could not lock {channels} (I need Manage Roles there).").format(
                    channels=mentions(failed)
                )
            )
        if skipped:
            lines.append(
                _("I left {channels} alone: you can't manage them.").format(
                    channels=mentions(skipped)
                )
            )
        await interaction.followup.send("\n".join(lines), ephemeral=True)

    @app_commands.command(name="unlock", description="Restore a locked channel as it was.")
    @app_commands.describe(
        channel="The channel to unlock (this one if empty)",
        server="Unlock every locked channel and undo a raid's slowmode",
        reason="Why; shown in the audit log",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_channels=True)
    @app_commands.checks.has_permissions(manage_channels=True)
    async def unlock(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        server: bool = False,
        reason: app_commands.Range[str, 1, 400] | None = None,
    ) -> None:
        guild, member = interaction.guild, interaction.user
        assert guild is not None and isinstance(member, discord.Member)
        skipped: list[discord.TextChannel] = []
        if server:
            require_server_wide_manage_channels(member)
            remembered = await service.remembered_locks(guild.id)
            targets = []
            for lock in remembered:
                found = guild.get_channel(lock.channel_id)
                if isinstance(found, discord.TextChannel):
                    targets.append(found)
                else:  # deleted since: nothing left to restore
                    await service.forget_lock(guild.id, lock.channel_id)
            targets, skipped = manageable_by(member, targets)
        else:
            target = channel or interaction.channel
            if not isinstance(target, discord.TextChannel):
                raise ValidationError(_("Choose a text channel to unlock."))
            require_invoker_can_manage(member, [target])
            if await service.remembered_lock(guild.id, target.id) is None:
                raise ConflictError(
                    _("{channel} is not locked by me, so there is nothing to restore."),
                    channel=channel_ref(target.id),
                )
            targets = [target]
        await interaction.response.defer(ephemeral=True, thinking=True)
        unlocked = []
        for target in targets:
            try:
                if await self.unlock_channel(target, reason):
                    unlocked.append(target)
            except (discord.HTTPException, PermissionDenied) as error:
                log.warning("Could not unlock channel %s: %s", target.id, error)
        slowed, still_slow = await self.restore_slowmodes(
            guild, manageable=member, only=None if server else targets[0]
        )
        if unlocked:
            await service.record_lock_change(
                guild.id,
                interaction.user.id,
                "channel.unlock",
                [c.id for c in unlocked],
                reason=reason,
            )
        lines = [
            _("🔓 Unlocked {channels}: their permissions are as they were before the lock.").format(
                channels=mentions(unlocked)
            )
            if unlocked
            else _("No channel was locked.")
        ]
        if slowed:
            lines.append(
                _("Slowmode is back to what it was in {channels}.").format(
                    channels=mentions(slowed)
                )
            )
        if still_slow:
            lines.append(
                _(
                    "I could not put back the slowmode of {channels} (I need Manage Channels "
                    "there); /unlock again once I have it."
                ).format(channels=mentions(still_slow))
            )
        failed = [c for c in targets if c not in unlocked]
        if failed:
            lines.append(
                _("I could not unlock {channels}; try again.").format(channels=mentions(failed))
            )
        if skipped:
            lines.append(
                _("I left {channels} locked: you can't manage them.").format(
                    channels=mentions(skipped)
                )
            )
        await interaction.followup.send("\n".join(lines), ephemeral=True)

    @app_commands.command(name="slowmode", description="Set or turn off a channel's slowmode.")
    @app_commands.describe(
        seconds="Time between two messages of a member, e.g. 30s or 5m (at most 6h), or off",
        channel="The channel (this one if empty)",
        reason="Why; shown in the audit log",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_channels=True)
    @app_commands.checks.has_permissions(manage_channels=True)
    async def slowmode(
        self,
        interaction: discord.Interaction,
        seconds: app_commands.Range[str, 1, 20],
        channel: discord.TextChannel | None = None,
        reason: app_commands.Range[str, 1, 400] | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        target = channel or interaction.channel
        if not isinstance(target, discord.TextChannel):
            raise ValidationError(_("Choose a text channel."))
        assert isinstance(interaction.user, discord.Member)
        require_invoker_can_manage(interaction.user, [target])
        value = parse_slowmode(seconds)
        if not target.permissions_for(guild.me).manage_channels:
            raise PermissionDenied(
                _("I can't change {channel}: I need Manage Channels there."),
                channel=channel_ref(target.id),
            )
        before = target.slowmode_delay
        await target.edit(slowmode_delay=value, reason=reason or _("Slowmode"))
        # Set by hand: a raid's remembered slowmode no longer applies to this channel.
        await service.forget_slowmode(guild.id, target.id)
        await service.record_lock_change(
            guild.id,
            interaction.user.id,
            "channel.slowmode",
            [target.id],
            reason=reason,
            before={"slowmode_seconds": before},
            after={"slowmode_seconds": value},
        )
        if value:
            said = _("🐢 Slowmode in {channel} is set to {duration}.").format(
                channel=target.mention, duration=format_duration(value)
            )
        else:
            said = _("🐢 Slowmode in {channel} is off.").format(channel=target.mention)
        await interaction.response.send_message(said, ephemeral=True)

    # --------------------------------------------------------------------------------------------
    # /raid

    def raid_embed(self, config: RaidConfig) -> discord.Embed:
        def channels(ids: Sequence[int], default: str) -> str:
            return " ".join(f"<#{i}>" for i in ids) or default

        embed = discord.Embed(title=_("Raid response"), colour=BLURPLE)
        embed.add_field(
            name=_("Lockdown: {state}").format(state=_("on") if config.lockdown else _("off")),
            value=channels(
                config.lockdown_channel_ids,
                _("Every text channel @everyone talks in, but the log"),
            ),
            inline=False,
        )
        slow = config.slowmode_seconds
        embed.add_field(
            name=_("Slowmode: {state}").format(state=format_duration(slow) if slow else _("off")),
            value=channels(config.slowmode_channel_ids, _("The lockdown channels")),
            inline=False,
        )
        embed.add_field(name=_("Joining wave"), value=_(RAID_ACTION_NAMES[config.action]))
        age = config.min_account_days
        embed.add_field(
            name=_("Account-age gate"),
            value=ngettext(
                "{days} day, for {duration} after the last raid join",
                "{days} days, for {duration} after the last raid join",
                age,
            ).format(days=age, duration=format_duration(config.hold_seconds))
            if age
            else _("off"),
        )
        embed.set_footer(text=_("Anti-raid itself is set with /security set"))
        return embed

    @raid.command(name="settings", description="Show what a detected raid sets off.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def raid_settings(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        config = await service.raid_config(interaction.guild.id)
        await interaction.response.send_message(embed=self.raid_embed(config), ephemeral=True)

    @raid.command(name="set", description="Choose what a detected raid sets off.")
    @app_commands.describe(
        lockdown=RAID["raid_lockdown"].help,
        slowmode="Slowmode a raid sets in the slowmode channels, e.g. 30s (off: none)",
        action=RAID["raid_action"].help,
        min_account_age=RAID["raid_min_account_days"].help,
        hold="How long the age gate lasts after the raid's last join, e.g. 30m",
    )
    @app_commands.choices(
        action=[app_commands.Choice(name=a.value, value=a.value) for a in RaidAction]
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def raid_set(
        self,
        interaction: discord.Interaction,
        lockdown: bool | None = None,
        slowmode: app_commands.Range[str, 1, 20] | None = None,
        action: str | None = None,
        min_account_age: app_commands.Range[int, *RAID.bounds("raid_min_account_days")]
        | None = None,
        hold: app_commands.Range[str, 1, 20] | None = None,
    ) -> None:
        assert interaction.guild is not None
        config = await service.update_raid_settings(
            interaction.guild.id,
            interaction.user.id,
            {
                "raid_lockdown": lockdown,
                "raid_slowmode_seconds": parse_slowmode(slowmode) if slowmode else None,
                "raid_action": action,
                "raid_min_account_days": min_account_age,
                "raid_hold_seconds": parse_duration(hold, minimum=60, maximum=86400)
                if hold
                else None,
            },
        )
        await interaction.response.send_message(
            _("Raid response saved."), embed=self.raid_embed(config), ephemeral=True
        )

    @raid.command(name="channel", description="Choose whether a raid locks or slows a channel.")
    @app_commands.describe(
        channel="The channel",
        lockdown="Lock it during a raid and with /lock server",
        slowmode="Raise its slowmode during a raid",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def raid_channel(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        lockdown: bool | None = None,
        slowmode: bool | None = None,
    ) -> None:
        assert interaction.guild is not None
        if lockdown:
            require_can_lock(channel)
        config = await service.toggle_raid_channel(
            interaction.guild.id,
            interaction.user.id,
            channel.id,
            lockdown=lockdown,
            slowmode=slowmode,
        )
        await interaction.response.send_message(
            _("Raid channels saved."), embed=self.raid_embed(config), ephemeral=True
        )

    # --------------------------------------------------------------------------------------------
    # The verification gate

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        if member.bot:
            return
        config = await self.gates.get(member.guild.id)
        if not config.enabled:
            return
        if config.timeout_seconds > 0:
            # Written first: whatever happens next, the timer is not forgotten.
            await service.schedule_timeout(
                member.guild.id, member.id, utcnow() + timedelta(seconds=config.timeout_seconds)
            )
            self.bot.scheduler.wake()
        role = member.guild.get_role(config.unverified_role_id or 0)
        if role is not None:
            granted = await vet_grants(member, [role], purpose=N_("verification gate"))
            if granted:
                try:
                    with for_guild(member.guild.id):
                        reason = _("Not verified yet")
                    await member.add_roles(*granted, reason=reason)
                except discord.HTTPException as error:
                    log.warning(
                        "Could not give the unverified role in %s: %s", member.guild.id, error
                    )

    async def verify(self, interaction: discord.Interaction, member: discord.Member) -> None:
        guild = member.guild
        config = await service.verification_config(guild.id)
        if not config.enabled:
            raise ConflictError(_("Verification is off in this server."))
        if is_verified(member, config):
            await interaction.response.send_message(_("You are already verified."), ephemeral=True)
            return
        service.require_old_enough(member.created_at, utcnow(), config.min_account_days)
        await interaction.response.defer(ephemeral=True, thinking=True)
        fault = gate_fault(member, config)
        if fault is not None:
            await self.alert_gate_broken(guild, fault)
            raise ConflictError(fault.for_member)
        verified = guild.get_role(config.verified_role_id or 0)
        if verified is not None:
            granted = await vet_grants(member, [verified], purpose=N_("verification"))
            if not granted:
                raise PermissionDenied(
                    _(
                        "I can't give you the verified role right now; the server's staff have "
                        "been told. Try again later."
                    )
                )
            with for_guild(guild.id):
                reason = _("Verified")
            await member.add_roles(*granted, reason=reason)
        unverified = guild.get_role(config.unverified_role_id or 0)
        if unverified is not None and unverified in member.roles:
            with for_guild(guild.id):
                reason = _("Verified")
            await member.remove_roles(unverified, reason=reason)
        await service.cancel_timeout(guild.id, member.id)
        await interaction.followup.send(_("✅ You are verified. Welcome!"), ephemeral=True)

    async def on_verification_timeout(self, action: ScheduledAction) -> None:
        guild = self.bot.get_guild(action.guild_id or 0)
        if guild is None:
            return  # the bot left the server
        member = guild.get_member(int(action.payload["user_id"]))
        if member is None:
            return  # gone already
        config = await service.verification_config(guild.id)
        if not config.enabled or is_verified(member, config) or is_staff(member):
            return
        fault = gate_fault(member, config)
        if fault is not None:
            # The member could not verify: kicking would punish the server's mistake.
            log.warning("Not kicking %s in %s: %s", member.id, guild.id, fault.staff_text)
            await self.alert_gate_broken(guild, fault)
            return
        waited = int((utcnow() - member.joined_at).total_seconds()) if member.joined_at else 0
        with for_guild(guild.id):
            reason = _("Not verified in time")
            await guild.kick(member, reason=reason)
            await service.record_timeout_kick(guild.id, member.id, waited)
            await self.record_cases(guild, [member.id], CaseType.KICK, reason)

    async def alert_gate_broken(self, guild: discord.Guild, fault: GateFault) -> None:
        """Tell the staff the gate can't be passed, at most once per GATE_ALERT_INTERVAL per server
        (every press of Verify would otherwise post)."""
        moment = utcnow().timestamp()
        if moment - self._gate_alerted.get(guild.id, 0.0) < GATE_ALERT_INTERVAL:
            return
        self._gate_alerted[guild.id] = moment
        with for_guild(guild.id):
            embed = discord.Embed(
                title=_("Verification gate broken"),
                description=_(
                    "{why} Members pressing Verify are refused, and members not verified in "
                    "time are not kicked, until it is fixed."
                ).format(why=fault.for_staff),
                colour=RED,
            )
        await post_alert(guild, embed)

    def verification_embed(self, guild: discord.Guild, config: VerificationConfig) -> discord.Embed:
        def role(role_id: int | None) -> str:
            return f"<@&{role_id}>" if role_id else _("none")

        embed = discord.Embed(
            title=_("Verification: {state}").format(state=_("on") if config.enabled else _("off")),
            colour=BLURPLE,
        )
        embed.add_field(name=_("Verified role"), value=role(config.verified_role_id))
        embed.add_field(name=_("Unverified role"), value=role(config.unverified_role_id))
        age = config.min_account_days
        embed.add_field(
            name=_("Minimum account age"),
            value=ngettext("{days} day", "{days} days", age).format(days=age) if age else _("any"),
        )
        timeout = config.timeout_seconds
        embed.add_field(
            name=_("Kicked if not verified within"),
            value=format_duration(timeout) if timeout else _("never"),
        )
        where = (
            f"<#{config.channel_id}>" if config.channel_id else _("not posted: /verification post")
        )
        embed.add_field(name=_("Verify message"), value=where, inline=False)
        return embed

    @verification.command(name="settings", description="Show the verification gate.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def verification_settings(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        config = await service.verification_config(interaction.guild.id)
        await interaction.response.send_message(
            embed=self.verification_embed(interaction.guild, config), ephemeral=True
        )

    @verification.command(name="set", description="Set up the verification gate.")
    @app_commands.describe(
        enabled=VERIFICATION["verification_enabled"].help,
        verified_role=VERIFICATION["verified_role_id"].help,
        unverified_role=VERIFICATION["unverified_role_id"].help,
        min_account_age=VERIFICATION["verification_min_account_days"].help,
        kick_after="Kick members not verified this long after joining, e.g. 1h (off: never)",
        clear_verified_role="Give no role on verifying",
        clear_unverified_role="Give no role on joining",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def verification_set(
        self,
        interaction: discord.Interaction,
        enabled: bool | None = None,
        verified_role: discord.Role | None = None,
        unverified_role: discord.Role | None = None,
        min_account_age: app_commands.Range[
            int, *VERIFICATION.bounds("verification_min_account_days")
        ]
        | None = None,
        kick_after: app_commands.Range[str, 1, 20] | None = None,
        clear_verified_role: bool = False,
        clear_unverified_role: bool = False,
    ) -> None:
        guild = interaction.guild
        assert guild is not None and isinstance(interaction.user, discord.Member)
        for role in (verified_role, unverified_role):
            if role is not None:
                require_can_delegate(role, interaction.user)
        clear = tuple(
            name
            for name, wanted in (
                ("verified_role_id", clear_verified_role and verified_role is None),
                ("unverified_role_id", clear_unverified_role and unverified_role is None),
            )
            if wanted
        )
        timeout_seconds = None
        if kick_after is not None:
            cleaned = kick_after.strip().lower()
            timeout_seconds = (
                0
                if cleaned in ("off", "0", "never")
                else parse_duration(cleaned, minimum=60, maximum=7 * 86400)
            )
        config = await service.update_verification_settings(
            guild.id,
            interaction.user.id,
            {
                "verification_enabled": enabled,
                "verified_role_id": verified_role.id if verified_role else None,
                "unverified_role_id": unverified_role.id if unverified_role else None,
                "verification_min_account_days": min_account_age,
                "verification_timeout_seconds": timeout_seconds,
            },
            clear=clear,
        )
        for role in (verified_role, unverified_role):
            if role is not None:
                await remember_role_setup(role, interaction.user)
        self.gates.invalidate(guild.id)
        await interaction.response.send_message(
            _("Verification settings saved."),
            embed=self.verification_embed(guild, config),
            ephemeral=True,
        )

    @verification.command(name="post", description="Post the message with the Verify button.")
    @app_commands.describe(
        channel="Where new members verify",
        text="What the message says (a default explains the button)",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def verification_post(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        text: app_commands.Range[str, 1, 2000] | None = None,
    ) -> None:
        guild, member = interaction.guild, interaction.user
        assert guild is not None and isinstance(member, discord.Member)
        require_member_can_see(channel, member)
        require_bot_can_post(channel, what=N_("the Verify message"), embeds=True)
        config = await service.verification_config(guild.id)
        # The Verify message is for every newcomer: in the server's language.
        with for_guild(guild.id):
            days = config.min_account_days
            default = _("Press **Verify** to get access to the server.")
            if days:
                default += " " + ngettext(
                    "Accounts must be at least {days} day old.",
                    "Accounts must be at least {days} days old.",
                    days,
                ).format(days=days)
            embed = discord.Embed(
                title=_("Verification"), description=text or default, colour=GREEN
            )
            view = discord.ui.View(timeout=None)
            view.add_item(VerifyButton(guild.id))
        message = await channel.send(embed=embed, view=view)
        await service.record_panel(guild.id, channel.id, message.id)
        posted = _("Posted the Verify message in {channel} ({time}).").format(
            channel=channel.mention, time=timestamp(message.created_at)
        )
        if not config.enabled:
            posted += " " + _("The gate is off: turn it on with /verification set.")
        await interaction.response.send_message(posted, ephemeral=True)


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(RaidResponse(bot))
