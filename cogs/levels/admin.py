"""Server staff commands of the levels feature: `/xp ...` and `/levels ...` (Manage Server).

The rules and the declared settings live in pegasus.services.levels; settings changes invalidate
the cached configuration of the buffer that the `Levels` cog owns, so they apply to the next
message.
"""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from models.levels import MultiplierTarget, RewardMode
from pegasus.bot import Pegasus
from pegasus.errors import NotFoundError, ValidationError, shown_input
from pegasus.i18n import N_, _, format_number
from pegasus.services import levels as service
from pegasus.services.durations import parse_duration
from pegasus.services.ids import parse_snowflake
from pegasus.services.levels import RULES, SETTINGS, ChannelKind, XpChange, XpOperation
from pegasus.ui.checks import MANAGE_SERVER
from pegasus.ui.roles import remember_role_setup, require_can_delegate
from pegasus.ui.views import confirm

from . import render
from .cog import Levels

log = logging.getLogger(__name__)

KIND_CHOICES = [
    app_commands.Choice(name="Normal", value=ChannelKind.NORMAL.value),
    app_commands.Choice(name="Ignored (no XP, messages not counted)", value="ignored"),
    app_commands.Choice(name="No XP (messages still counted)", value="no-xp"),
    app_commands.Choice(name="Double XP", value="double-xp"),
]
MODE_CHOICES = [
    app_commands.Choice(name="Stack: keep every reward reached", value="stack"),
    app_commands.Choice(name="Replace: keep only the highest reward", value="replace"),
]
KIND_WORDS = {
    ChannelKind.NORMAL: N_("{channel} is now a normal channel again."),
    ChannelKind.IGNORED: N_("{channel} is now ignored: no XP, and messages are not counted."),
    ChannelKind.NO_XP: N_(
        "{channel} is now a no-XP channel: messages are counted, no XP is given."
    ),
    ChannelKind.DOUBLE_XP: N_("{channel} is now a double-XP channel."),
}
MODE_WORDS = {
    RewardMode.STACK: N_("keep every reward reached"),
    RewardMode.REPLACE: N_("keep only the highest reward"),
}
# /levels set's options and the settings they change (their help comes from the declaration).
SET_OPTIONS = {
    "enabled": "xp_enabled",
    "xp_min": "xp_min",
    "xp_max": "xp_max",
    "cooldown": "xp_cooldown_seconds",
    "voice_xp": "xp_per_voice_minute",
    "rate": "xp_rate",
    "announce": "xp_announce_level_up",
    "channel": "xp_level_up_channel_id",
    "message": "xp_level_up_message",
    "booster_role": "xp_booster_role_id",
    "booster_multiplier": "xp_booster_multiplier",
    "voice_min_members": "voice_min_members",
    "voice_count_muted": "voice_count_muted",
    "voice_count_deafened": "voice_count_deafened",
    "rewards": "rewards_enabled",
}


def setting_help(name: str) -> str:
    return (SETTINGS if name in SETTINGS else RULES)[name].help


_MENTION = re.compile(r"^<(@&|#)(\d{15,20})>$")
_PREFIXED = re.compile(r"^(role|channel):(\d{15,20})$")

AnyChannel = (
    discord.TextChannel
    | discord.VoiceChannel
    | discord.StageChannel
    | discord.ForumChannel
    | discord.CategoryChannel
)


class LevelsAdmin(commands.Cog, name="Levels admin"):
    """XP by hand, level settings, reward roles, multipliers and channel kinds."""

    xp = app_commands.Group(
        name="xp",
        description="Give, take, set or reset a member's XP.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )
    levels = app_commands.Group(
        name="levels",
        description="Set up XP, level-up messages, reward roles and multipliers.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )

    def __init__(self, bot: Pegasus, levels: Levels) -> None:
        self.bot = bot
        # Named `feature`, not `levels`: that name is the /levels command group.
        self.feature = levels

    # ------------------------------------------------------------------------------ /xp

    async def _change_xp(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        operation: XpOperation,
        amount: int = 0,
    ) -> XpChange:
        guild = interaction.guild
        assert guild is not None
        if member.bot:
            raise ValidationError(_("Bots do not have XP."))
        async with self.feature.activity.lock:
            if operation in (XpOperation.SET, XpOperation.RESET):
                self.feature.activity.discard(guild.id, member.id)  # pending XP would land on top
            change = await service.adjust_xp(
                guild.id, member.id, operation, amount, now=discord.utils.utcnow()
            )
        config = (await self.feature.activity.caches.get(guild.id)).config
        try:
            await self.feature.sync_rewards(member, config, change.new_level)
        except discord.HTTPException as error:
            log.warning("Rewards of %s not synced after /xp: %s", member.id, error)
        return change

    @staticmethod
    def _xp_embed(change: XpChange, done: str) -> discord.Embed:
        """`done` says what was done to whom ("Gave 50 XP to @member")."""
        if change.new_level != change.old_level:
            level = _("level **{level}** (was {old_level})").format(
                level=format_number(change.new_level), old_level=format_number(change.old_level)
            )
        else:
            level = _("level **{level}**").format(level=format_number(change.new_level))
        return discord.Embed(
            description=_("{done}: now **{xp} XP**, {level}.\nBefore: {old_xp} XP.").format(
                done=done,
                xp=format_number(change.new_xp),
                level=level,
                old_xp=format_number(change.old_xp),
            ),
            colour=render.SUCCESS_COLOUR,
        )

    @xp.command(name="add", description="Give a member XP.")
    @app_commands.describe(member="Who gets the XP", amount="How much XP to give")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def xp_add(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, 1, service.MAX_ADJUST],
    ) -> None:
        change = await self._change_xp(interaction, member, XpOperation.ADD, amount)
        await interaction.response.send_message(
            embed=self._xp_embed(
                change,
                _("Gave {amount} XP to {member}").format(
                    amount=format_number(amount), member=member.mention
                ),
            )
        )

    @xp.command(name="remove", description="Take XP from a member (rewards above follow).")
    @app_commands.describe(member="Whose XP to take", amount="How much XP to take")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def xp_remove(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, 1, service.MAX_ADJUST],
    ) -> None:
        change = await self._change_xp(interaction, member, XpOperation.REMOVE, amount)
        await interaction.response.send_message(
            embed=self._xp_embed(
                change,
                _("Took {amount} XP from {member}").format(
                    amount=format_number(change.old_xp - change.new_xp), member=member.mention
                ),
            )
        )

    @xp.command(name="set", description="Set a member's XP to an exact amount.")
    @app_commands.describe(member="Whose XP to set", amount="The new total XP")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def xp_set(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, 0, service.MAX_ADJUST],
    ) -> None:
        change = await self._change_xp(interaction, member, XpOperation.SET, amount)
        await interaction.response.send_message(
            embed=self._xp_embed(
                change, _("Set the XP of {member}").format(member=member.mention)
            )
        )

    @xp.command(name="reset", description="Reset a member's XP and level to zero.")
    @app_commands.describe(member="Whose XP to reset")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def xp_reset(self, interaction: discord.Interaction, member: discord.Member) -> None:
        if member.bot:
            raise ValidationError(_("Bots do not have XP."))

        async def reset(answer: discord.Interaction) -> None:
            change = await self._change_xp(interaction, member, XpOperation.RESET)
            await answer.response.edit_message(
                content=None,
                embed=self._xp_embed(change, _("Reset {member}").format(member=member.mention)),
                view=None,
            )

        await confirm(
            interaction,
            _("Reset **all** XP of {member} to 0? Their level and reward roles go too.").format(
                member=member.mention
            ),
            reset,
            confirm_label=_("Reset XP"),
        )

    # ------------------------------------------------------------------------------ /levels

    async def _invalidate(self, guild_id: int) -> None:
        """The settings changed: the next message and the voice time from now use them."""
        await self.feature.activity.settings_changed(guild_id)

    @levels.command(name="settings", description="Show how XP and levels are set up here.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def levels_settings(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        assert guild is not None
        config = await service.load_config(guild.id)
        await interaction.response.send_message(
            embed=render.settings_embed(guild.name, config), ephemeral=True
        )

    @levels.command(name="set", description="Change XP settings; options left empty stay.")
    @app_commands.describe(
        **{option: setting_help(name) for option, name in SET_OPTIONS.items()},
        announce_where_spoken="Announce in the channel where the member spoke instead",
        no_booster_role="Stop counting an extra role as booster (real boosters still count)",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def levels_set(
        self,
        interaction: discord.Interaction,
        enabled: bool | None = None,
        xp_min: app_commands.Range[int, *SETTINGS.bounds("xp_min")] | None = None,
        xp_max: app_commands.Range[int, *SETTINGS.bounds("xp_max")] | None = None,
        cooldown: app_commands.Range[str, 1, 32] | None = None,
        voice_xp: app_commands.Range[int, *SETTINGS.bounds("xp_per_voice_minute")] | None = None,
        rate: app_commands.Range[int, *SETTINGS.bounds("xp_rate")] | None = None,
        announce: bool | None = None,
        channel: discord.TextChannel | None = None,
        announce_where_spoken: bool | None = None,
        message: app_commands.Range[str, 1, service.MAX_TEMPLATE_LENGTH] | None = None,
        booster_role: discord.Role | None = None,
        no_booster_role: bool | None = None,
        booster_multiplier: app_commands.Range[int, *SETTINGS.bounds("xp_booster_multiplier")]
        | None = None,
        voice_min_members: app_commands.Range[int, *RULES.bounds("voice_min_members")]
        | None = None,
        voice_count_muted: bool | None = None,
        voice_count_deafened: bool | None = None,
        rewards: bool | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        if channel is not None and announce_where_spoken:
            raise ValidationError(
                _("Choose either a channel or announce_where_spoken, not both.")
            )
        if booster_role is not None and no_booster_role:
            raise ValidationError(_("Choose either booster_role or no_booster_role, not both."))
        low, high = SETTINGS.bounds("xp_cooldown_seconds")
        changes = {
            "xp_enabled": enabled,
            "xp_min": xp_min,
            "xp_max": xp_max,
            "xp_cooldown_seconds": (
                parse_duration(cooldown, minimum=low, maximum=high) if cooldown else None
            ),
            "xp_per_voice_minute": voice_xp,
            "xp_rate": rate,
            "xp_announce_level_up": announce,
            "xp_level_up_channel_id": channel.id if channel else None,
            "xp_level_up_message": message,
            "xp_booster_role_id": booster_role.id if booster_role else None,
            "xp_booster_multiplier": booster_multiplier,
            "voice_min_members": voice_min_members,
            "voice_count_muted": voice_count_muted,
            "voice_count_deafened": voice_count_deafened,
            "rewards_enabled": rewards,
        }
        changes = {name: value for name, value in changes.items() if value is not None}
        if announce_where_spoken:
            changes["xp_level_up_channel_id"] = None
        if no_booster_role:
            changes["xp_booster_role_id"] = None
        if not changes:
            raise ValidationError(_("Nothing to change: give at least one option."))
        config = await service.update_settings(guild.id, actor_id=interaction.user.id, **changes)
        await self._invalidate(guild.id)
        embed = render.settings_embed(guild.name, config)
        embed.title = _("Level settings updated · {server}").format(server=guild.name)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @levels.command(name="reward-add", description="Give a role when members reach a level.")
    @app_commands.describe(
        level="The level that earns the role",
        role="The role to give",
        message="A special level-up message for this reward; {user}, {level}, {server}",
        mode="Keep this reward when higher ones come (stack) or swap it (replace)",
    )
    @app_commands.choices(mode=MODE_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def reward_add(
        self,
        interaction: discord.Interaction,
        level: app_commands.Range[int, 1, service.MAX_LEVEL],
        role: discord.Role,
        message: app_commands.Range[str, 1, 1_000] | None = None,
        mode: app_commands.Choice[str] | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None and isinstance(interaction.user, discord.Member)
        require_can_delegate(role, interaction.user)
        await service.add_reward(
            guild.id,
            level,
            role.id,
            message=message,
            mode=RewardMode(mode.value) if mode else None,
            actor_id=interaction.user.id,
        )
        await remember_role_setup(role, interaction.user)
        await self._invalidate(guild.id)
        await interaction.response.send_message(
            _(
                "Members reaching level **{level}** now get {role}. Members already past it get "
                "it at their next level-up."
            ).format(level=format_number(level), role=role.mention),
            ephemeral=True,
        )

    @levels.command(name="reward-remove", description="Stop giving a role at a level.")
    @app_commands.describe(level="The level of the reward", role="The reward role")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def reward_remove(
        self,
        interaction: discord.Interaction,
        level: app_commands.Range[int, 1, service.MAX_LEVEL],
        role: discord.Role,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        await service.remove_reward(guild.id, level, role.id, actor_id=interaction.user.id)
        await self._invalidate(guild.id)
        await interaction.response.send_message(
            _(
                "{role} is no longer the reward for level **{level}**. Members keep it unless you "
                "remove it yourself."
            ).format(role=role.mention, level=format_number(level)),
            ephemeral=True,
        )

    @levels.command(name="rewards", description="List the reward roles.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def rewards_list(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        assert guild is not None
        config = await service.load_config(guild.id)
        await interaction.response.send_message(
            embed=render.rewards_embed(guild.name, list(config.rewards), config), ephemeral=True
        )

    @levels.command(name="reward-mode", description="Stack reward roles or keep only the highest.")
    @app_commands.describe(mode="stack: keep every reward; replace: only the highest reached")
    @app_commands.choices(mode=MODE_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def reward_mode(
        self, interaction: discord.Interaction, mode: app_commands.Choice[str]
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        await service.set_reward_mode(
            guild.id, RewardMode(mode.value), actor_id=interaction.user.id
        )
        await self._invalidate(guild.id)
        await interaction.response.send_message(
            _("Reward mode is now **{mode}**: {meaning}.").format(
                mode=mode.value, meaning=_(MODE_WORDS[RewardMode(mode.value)])
            ),
            ephemeral=True,
        )

    def _resolve_target(
        self, guild: discord.Guild, text: str
    ) -> tuple[MultiplierTarget, int, str]:
        """A role or channel from a mention, `role:<id>`/`channel:<id>`, an id or a name."""
        text = text.strip()
        candidates: list[tuple[MultiplierTarget, int]] = []
        if match := _MENTION.match(text):
            kind = MultiplierTarget.ROLE if match[1] == "@&" else MultiplierTarget.CHANNEL
            candidates.append((kind, int(match[2])))
        elif match := _PREFIXED.match(text):
            candidates.append((MultiplierTarget(match[1]), int(match[2])))
        elif text.isdigit():
            target_id = parse_snowflake(text, what=_("a role or channel id"))
            candidates += [
                (MultiplierTarget.ROLE, target_id),
                (MultiplierTarget.CHANNEL, target_id),
            ]
        else:
            name = text.lstrip("@#").lower()
            candidates += [
                (MultiplierTarget.ROLE, r.id) for r in guild.roles if r.name.lower() == name
            ]
            candidates += [
                (MultiplierTarget.CHANNEL, c.id) for c in guild.channels if c.name.lower() == name
            ]
        for kind, target_id in candidates:
            if kind is MultiplierTarget.ROLE and (role := guild.get_role(target_id)):
                return kind, target_id, role.mention
            if kind is MultiplierTarget.CHANNEL and (channel := guild.get_channel(target_id)):
                return kind, target_id, channel.mention
        raise NotFoundError(
            _(
                "{text} is neither a role nor a channel of this server: pick one from the list."
            ).format(text=shown_input(text))
        )

    async def _target_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        guild = interaction.guild
        if guild is None:
            return []
        typed = current.lstrip("@#").lower()
        choices = [
            app_commands.Choice(name=f"@{role.name}", value=f"role:{role.id}")
            for role in reversed(guild.roles)
            if not role.is_default() and typed in role.name.lower()
        ]
        choices += [
            app_commands.Choice(name=f"#{channel.name}", value=f"channel:{channel.id}")
            for channel in guild.channels
            if typed in channel.name.lower()
        ]
        return choices[:25]

    @levels.command(
        name="multiplier", description="Multiply XP earned with a role or in a channel."
    )
    @app_commands.describe(
        target="A role or a channel (type to search)",
        percent="XP multiplier in percent: 150 = 1.5x, 50 = half, 100 = normal",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def multiplier(
        self,
        interaction: discord.Interaction,
        target: app_commands.Range[str, 1, 100],
        percent: app_commands.Range[int, 0, service.MAX_MULTIPLIER_PERCENT],
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        kind, target_id, mention = self._resolve_target(guild, target)
        await service.set_multiplier(
            guild.id, kind, target_id, percent, actor_id=interaction.user.id
        )
        await self._invalidate(guild.id)
        if kind is MultiplierTarget.ROLE:
            text = _("XP earned with {target} is now multiplied by **{percent}%**.")
        else:
            text = _("XP earned in {target} is now multiplied by **{percent}%**.")
        await interaction.response.send_message(
            text.format(target=mention, percent=format_number(percent)), ephemeral=True
        )

    @multiplier.autocomplete("target")
    async def _multiplier_target(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._target_choices(interaction, current)

    @levels.command(
        name="multiplier-remove", description="Remove a role's or channel's multiplier."
    )
    @app_commands.describe(target="The role or channel (type to search)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def multiplier_remove(
        self, interaction: discord.Interaction, target: app_commands.Range[str, 1, 100]
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        kind, target_id, mention = self._resolve_target(guild, target)
        await service.remove_multiplier(guild.id, kind, target_id, actor_id=interaction.user.id)
        await self._invalidate(guild.id)
        await interaction.response.send_message(
            _("{target} no longer changes XP.").format(target=mention), ephemeral=True
        )

    @multiplier_remove.autocomplete("target")
    async def _multiplier_remove_target(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._target_choices(interaction, current)

    @levels.command(
        name="channel", description="Make a channel normal, ignored, no-XP or double-XP."
    )
    @app_commands.describe(
        channel="The channel (a category applies to the channels in it)",
        kind="How XP works there",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel_kind(
        self,
        interaction: discord.Interaction,
        channel: AnyChannel,
        kind: app_commands.Choice[str],
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        chosen = ChannelKind(kind.value)
        await service.set_channel_kind(
            guild.id, channel.id, chosen, actor_id=interaction.user.id
        )
        await self._invalidate(guild.id)
        await interaction.response.send_message(
            _(KIND_WORDS[chosen]).format(channel=channel.mention), ephemeral=True
        )

    @levels.command(name="ignore-role", description="Members with this role earn no XP (toggle).")
    @app_commands.describe(role="The role to ignore, or to stop ignoring")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def ignore_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        guild = interaction.guild
        assert guild is not None
        ignored = await service.toggle_ignored_role(
            guild.id, role.id, actor_id=interaction.user.id
        )
        await self._invalidate(guild.id)
        text = (
            _("Members with {role} no longer earn XP.")
            if ignored
            else _("{role} is no longer ignored: its members earn XP again.")
        )
        await interaction.response.send_message(text.format(role=role.mention), ephemeral=True)
