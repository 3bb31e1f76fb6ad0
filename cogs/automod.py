"""Automod: `/automod add|edit|remove|list|test`, and the message hook that applies the rules.

The rules and their evaluation live in pegasus.services.automod; this module feeds it messages
(new and edited), performs the actions on Discord (delete, warn, timeout, kick, ban) through the
moderation Enforcer, so warnings, cases, automations and the modlog work as for a moderator's
action, and reports each hit in the server log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import utcnow

from pegasus import notify
from pegasus.bot import MessagePhase, MessageVerdict, Pegasus
from pegasus.errors import (
    ConflictError,
    NotFoundError,
    PegasusError,
    ValidationError,
    shown_input,
)
from pegasus.i18n import N_, _, for_guild, ngettext
from pegasus.services import automod, moderation
from pegasus.services.automod import (
    ACTION_FORMS,
    ESCALATION_FORM,
    SEVERITY,
    Action,
    ActionType,
    FileFacts,
    Firing,
    GuildRules,
    MessageFacts,
    Rule,
    RuleCache,
)
from pegasus.services.automod.engine import invite_firing
from pegasus.services.automod.hits import excerpt
from pegasus.services.community import LogEvent
from pegasus.services.durations import format_duration
from pegasus.ui import hierarchy
from pegasus.ui.checks import MANAGE_SERVER
from pegasus.ui.format import GREEN, GREYPLE, ORANGE, RED, clip
from pegasus.ui.logpost import post_log
from pegasus.ui.views import confirm

log = logging.getLogger(__name__)

KindName = Literal[
    "words",
    "regex",
    "invites",
    "links",
    "caps",
    "emoji",
    "mentions",
    "attachments",
    "new_account",
]
RULE_ID_HELP = "The rule's id, e.g. AM-7K2QX (see /automod list)"
MAX_REASON = 1000
INVITE_CACHE_SIZE = 1000
MAX_TITLE = 256
VERBS = {
    ActionType.WARN: N_("warn"),
    ActionType.TIMEOUT: N_("time out"),
    ActionType.KICK: N_("kick"),
    ActionType.BAN: N_("ban"),
}
KIND_NAMES = {
    automod.RuleKind.WORDS: N_("words"),
    automod.RuleKind.REGEX: N_("regex"),
    automod.RuleKind.INVITES: N_("invites"),
    automod.RuleKind.LINKS: N_("links"),
    automod.RuleKind.CAPS: N_("caps"),
    automod.RuleKind.EMOJI: N_("emoji"),
    automod.RuleKind.MENTIONS: N_("mentions"),
    automod.RuleKind.ATTACHMENTS: N_("attachments"),
    automod.RuleKind.NEW_ACCOUNT: N_("new account"),
}


# The moderation extension's cog whose Enforcer performs and records actions.
MODERATION_COG = "Moderation actions"


class Enforcer(Protocol):
    """What automod uses of moderation's Enforcer (cogs.moderation), found on its running cog so
    that punishments are performed, recorded and posted exactly as a moderator's are."""

    @property
    def bot_id(self) -> int: ...

    async def post_case(self, guild: discord.Guild, case: Any) -> Any: ...

    async def notify(
        self,
        user: discord.abc.User,
        guild: discord.Guild,
        action: str,
        reason: str | None,
        *,
        extra: str | None = None,
    ) -> bool: ...

    async def timeout(
        self,
        member: discord.Member,
        *,
        moderator: None,
        reason: str | None,
        duration_seconds: int,
        metadata: dict[str, Any] | None = None,
    ) -> Any: ...

    async def kick(
        self,
        member: discord.Member,
        *,
        moderator: None,
        reason: str | None,
        metadata: dict[str, Any] | None = None,
    ) -> Any: ...

    async def ban(
        self,
        guild: discord.Guild,
        user: discord.Member,
        *,
        moderator: None,
        reason: str | None,
        metadata: dict[str, Any] | None = None,
    ) -> Any: ...


def parse_ids(text: str | None, *, prefix: str) -> list[int]:
    """Role or channel mentions or ids, separated by spaces or commas (`none`: none)."""
    ids: list[int] = []
    for token in (text or "").replace(",", " ").split():
        if token.casefold() == "none":
            continue
        digits = token.removeprefix(prefix).removesuffix(">")
        if not digits.isdigit() or len(digits) > 20:
            raise ValidationError(
                _("{text} is not a mention or an id; separate several by spaces.").format(
                    text=shown_input(token)
                )
            )
        ids.append(int(digits))
    return ids


def check_roles(guild: discord.Guild, ids: list[int]) -> list[int]:
    for role_id in ids:
        if guild.get_role(role_id) is None:
            raise NotFoundError(
                _("There is no role with the id `{id}` in this server.").format(id=role_id)
            )
    return ids


def check_channels(guild: discord.Guild, ids: list[int]) -> list[int]:
    for channel_id in ids:
        if guild.get_channel_or_thread(channel_id) is None:
            raise NotFoundError(
                _("There is no channel with the id `{id}` in this server.").format(id=channel_id)
            )
    return ids


def rule_embed(rule: Rule, title: str, colour: int = GREEN) -> discord.Embed:
    embed = discord.Embed(title=title, colour=colour if rule.enabled else GREYPLE)
    embed.add_field(name=_("Id"), value=f"`{rule.rule_id}`")
    embed.add_field(name=_("Kind"), value=_(KIND_NAMES[rule.kind]))
    embed.add_field(name=_("Enabled"), value=_("yes") if rule.enabled else _("no"))
    embed.add_field(name=_("Looks for"), value=clip(rule.describe_params()), inline=False)
    embed.add_field(name=_("Actions"), value=rule.describe_actions(), inline=False)
    if rule.escalation is not None:
        embed.add_field(name=_("Escalation"), value=rule.escalation.describe(), inline=False)
    exempt = [f"<@&{i}>" for i in sorted(rule.exempt_roles)]
    exempt += [f"<#{i}>" for i in sorted(rule.exempt_channels)]
    if exempt:
        embed.add_field(name=_("Exempt"), value=clip(" ".join(exempt)), inline=False)
    return embed


def rule_line(rule: Rule) -> str:
    state = "" if rule.enabled else _(" (off)")
    escalation = (
        _("; then {escalation}").format(escalation=rule.escalation.describe())
        if rule.escalation
        else ""
    )
    return (
        f"`{rule.rule_id}` **{discord.utils.escape_markdown(rule.name)}**{state} · "
        f"{rule.describe_params()} → {rule.describe_actions()}{escalation}"
    )


def is_spared(member: discord.Member) -> bool:
    """Staff and whoever the bot cannot act on: the owner, Administrator or Manage Server, and
    members whose highest role is not below the bot's."""
    guild = member.guild
    if member.id == guild.owner_id:
        return True
    permissions = member.guild_permissions
    if permissions.administrator or permissions.manage_guild:
        return True
    return member.top_role >= guild.me.top_role


def role_ids(member: discord.Member) -> tuple[int, ...]:
    """The member's role ids with @everyone's (the guild's id), read from the ids discord.py
    keeps: `Member.roles` looks up and sorts every role on each call."""
    return (*member._roles, member.guild.id)


def channel_ids(channel: discord.abc.MessageableChannel) -> tuple[int, ...]:
    """The channel and where it sits, for exemptions: a channel's category; a thread's channel
    and that channel's category."""
    ids = [channel.id]
    if isinstance(channel, discord.Thread):
        ids.append(channel.parent_id)
        parent = channel.parent
        if parent is not None and parent.category_id:
            ids.append(parent.category_id)
    elif category_id := getattr(channel, "category_id", None):
        ids.append(category_id)
    return tuple(ids)


_new_tuple = tuple.__new__


def account_age(message_id: int, user_id: int) -> float:
    """Seconds between the account's creation and the message, read from their snowflakes
    (milliseconds since Discord's epoch in the top bits)."""
    return ((message_id >> 22) - (user_id >> 22)) / 1000


@dataclass
class Outcome:
    """What the actions for one message did so far, across the rules it set off."""

    deleted: bool = False
    removed: bool = False  # kicked or banned: nothing more to do to them
    timed_out: bool = False
    done: list[str] = field(default_factory=list)  # for the rule being handled
    case_id: int | None = None
    warning_id: int | None = None


class Automod(commands.Cog):
    """Filters what members say, per server rules, and acts on what they catch."""

    automod_group = app_commands.Group(
        name="automod",
        description="Filters on what members say, and what is done when one fires.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        self.rules = RuleCache()
        # Invite codes looked up → the server each opens (None: unknown or expired).
        self._invite_guilds: dict[str, int | None] = {}
        self._unsubscribe: Callable[[], None] = lambda: None

    async def cog_load(self) -> None:
        await self.rules.load_all()
        self._unsubscribe = notify.subscribe(self.rules.changed)
        self.bot.add_message_hook(self.on_message, MessagePhase.AUTOMOD)

    async def cog_unload(self) -> None:
        self.bot.remove_message_hook(self.on_message)
        self._unsubscribe()

    @property
    def enforcer(self) -> Enforcer:
        enforcer = getattr(self.bot.get_cog(MODERATION_COG), "enforcer", None)
        if enforcer is None:
            raise ConflictError(_("moderation is not loaded, so automod can only delete and log"))
        return enforcer  # type: ignore[no-any-return]

    # --------------------------------------------------------------------------------------------
    # The message hook

    async def on_message(self, message: discord.Message) -> MessageVerdict | None:
        """A message hook (see Pegasus.add_message_hook): after Security, before levels, so a
        message automod removes earns no XP. A guild without rules costs one lookup."""
        guild = message.guild
        if guild is None:
            return None
        rules = self.rules.by_guild.get(guild.id)  # (not `self.rules.get`: a call less)
        if rules is None:
            return None
        # Most messages set off no rule: they cost no coroutine beyond this one.
        fired = self.firings(message, rules)
        return await self.act(message, fired) if fired else None

    @commands.Cog.listener()
    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        """An edit can slip a filtered word into a message that passed."""
        if after.guild is None or before.content == after.content:
            return
        rules = self.rules.get(after.guild.id)
        if rules is not None and (fired := self.firings(after, rules)):
            await self.act(after, fired)

    @staticmethod
    def firings(message: discord.Message, rules: GuildRules) -> list[Firing]:
        """The rules a member's message sets off (none for bots and webhooks), before anyone is
        spared."""
        author = message.author
        if author.bot or message.webhook_id is not None or not isinstance(author, discord.Member):
            return []
        # Only what some rule of the guild reads: this runs for every message of the guild.
        # (Made as the tuple it is: the named tuple's constructor is a Python call more.)
        facts = _new_tuple(
            MessageFacts,
            (
                message.content,
                channel_ids(message.channel) if rules.needs_channels else (),
                role_ids(author) if rules.needs_roles else (),
                account_age(message.id, author.id) if rules.needs_account_age else None,
                tuple(FileFacts(a.filename, a.content_type) for a in message.attachments)
                if rules.needs_files and message.attachments
                else (),
            ),
        )
        return rules.evaluate(facts)

    async def act(self, message: discord.Message, fired: list[Firing]) -> MessageVerdict | None:
        """Act on the rules a message set off, unless its author is spared (asked only now:
        most messages set off none)."""
        author = message.author
        assert isinstance(author, discord.Member)  # `firings` finds none otherwise
        if is_spared(author):
            return None
        # What automod records and posts (reasons, cases, warnings, the log) is for the server's
        # staff: in the server's language.
        with for_guild(author.guild.id):
            fired = await self.without_allowed_invites(author.guild.id, fired)
            if not fired:
                return None
            outcome = await self.enforce(message, author, fired)
        return MessageVerdict.REMOVED if outcome.deleted else None

    async def invite_guild(self, code: str) -> int | None:
        """The server an invite opens, asked of Discord once per code (None: no such invite)."""
        if code in self._invite_guilds:
            return self._invite_guilds[code]
        try:
            invite = await self.bot.fetch_invite(code, with_counts=False)
        except discord.NotFound:
            guild_id = None
        except discord.HTTPException as error:
            log.warning("Could not look up invite %s: %s", code, error)
            return None  # not kept: asked again next time
        else:
            guild_id = invite.guild.id if invite.guild is not None else None
        if len(self._invite_guilds) >= INVITE_CACHE_SIZE:
            self._invite_guilds.pop(next(iter(self._invite_guilds)))
        self._invite_guilds[code] = guild_id
        return guild_id

    async def without_allowed_invites(self, guild_id: int, fired: list[Firing]) -> list[Firing]:
        """Drop what invites rules found when every invite opens this server or one the rule
        allows by id (an invite allowed by its code never reached here)."""
        kept = []
        for firing in fired:
            if firing.invites:
                allowed = {guild_id, *firing.rule.params.get("allow_guilds", ())}
                foreign = [
                    code for code in firing.invites if await self.invite_guild(code) not in allowed
                ]
                if not foreign:
                    continue
                firing = invite_firing(firing.rule, tuple(foreign))
            kept.append(firing)
        return kept

    async def enforce(
        self, message: discord.Message, member: discord.Member, fired: list[Firing]
    ) -> Outcome:
        outcome = Outcome()
        for firing in fired:
            rule = firing.rule
            hit = await automod.record_hit(
                guild_id=member.guild.id,
                rule=rule,
                user_id=member.id,
                channel_id=message.channel.id,
                message_id=message.id,
                content=message.content,
                reason=firing.reason,
                now=message.edited_at or message.created_at,
            )
            if hit is None:
                continue  # acted on for this message and rule already
            actions = list(rule.actions)
            if hit.escalated and rule.escalation is not None:
                actions.append(rule.escalation.action)
            # The strongest first: a member banned for a message is not also warned for it.
            actions.sort(key=lambda action: -SEVERITY[action.type])
            outcome.done, outcome.case_id, outcome.warning_id = [], None, None
            for action in actions:
                await self.perform(action, message, member, firing, outcome)
            await automod.complete_hit(
                hit.id, outcome.done, case_id=outcome.case_id, warning_id=outcome.warning_id
            )
            await self.report(message, member, firing, outcome, escalated=hit.escalated)
        return outcome

    async def perform(
        self,
        action: Action,
        message: discord.Message,
        member: discord.Member,
        firing: Firing,
        outcome: Outcome,
    ) -> None:
        kind = action.type
        if kind is ActionType.LOG:
            outcome.done.append(_("logged"))
            return
        if kind is ActionType.DELETE:
            await self.delete(message, outcome)
            return
        if outcome.removed:
            return  # kicked or banned for this message already
        reason = self.reason(firing)
        try:
            hierarchy.check_bot_outranks(member.guild, member, VERBS[kind])
            if kind is ActionType.WARN:
                await self.warn(message, member, action, firing, outcome)
            elif kind is ActionType.TIMEOUT and not outcome.timed_out:
                case = await self.enforcer.timeout(
                    member,
                    moderator=None,
                    reason=reason,
                    duration_seconds=action.duration_seconds or 60,
                    metadata={"automod_rule": firing.rule.rule_id},
                )
                outcome.timed_out = True
                outcome.case_id = case.id
                outcome.done.append(
                    _("timed out {duration}").format(
                        duration=format_duration(action.duration_seconds)
                    )
                    if action.duration_seconds
                    else _("timed out")
                )
            elif kind is ActionType.KICK:
                case = await self.enforcer.kick(
                    member,
                    moderator=None,
                    reason=reason,
                    metadata={"automod_rule": firing.rule.rule_id},
                )
                outcome.removed, outcome.case_id = True, case.id
                outcome.done.append(_("kicked"))
            elif kind is ActionType.BAN:
                case = await self.enforcer.ban(
                    member.guild,
                    member,
                    moderator=None,
                    reason=reason,
                    metadata={"automod_rule": firing.rule.rule_id},
                )
                outcome.removed, outcome.case_id = True, case.id
                outcome.done.append(_("banned"))
        except PegasusError as error:
            outcome.done.append(
                _("{action} not done: {error}").format(action=kind.value, error=error.plain())
            )
        except discord.HTTPException as error:
            log.warning("Automod could not %s %s: %s", kind.value, member.id, error)
            outcome.done.append(
                _("{action} failed: Discord refused ({status})").format(
                    action=kind.value, status=error.status
                )
            )

    @staticmethod
    def reason(firing: Firing) -> str:
        return _("Automod rule {name} ({id}): {reason}").format(
            name=firing.rule.name, id=firing.rule.rule_id, reason=firing.reason
        )[:MAX_REASON]

    async def delete(self, message: discord.Message, outcome: Outcome) -> None:
        if outcome.deleted:
            outcome.done.append(_("deleted"))
            return
        try:
            await message.delete()
        except discord.NotFound:
            pass  # gone already: what the action wanted
        except discord.HTTPException as error:
            log.warning("Automod could not delete message %s: %s", message.id, error)
            outcome.done.append(
                _("delete failed: Discord refused ({status})").format(status=error.status)
            )
            return
        outcome.deleted = True
        outcome.done.append(_("deleted"))

    async def warn(
        self,
        message: discord.Message,
        member: discord.Member,
        action: Action,
        firing: Firing,
        outcome: Outcome,
    ) -> None:
        guild = member.guild
        title = _("Automod rule {name} ({id})").format(
            name=firing.rule.name, id=firing.rule.rule_id
        )[:MAX_TITLE]
        issued = await moderation.issue_warning(
            guild_id=guild.id,
            user_id=member.id,
            moderator_id=self.enforcer.bot_id,
            title=title,
            description=_("{reason} in {channel}: {excerpt}").format(
                reason=firing.reason,
                channel=f"<#{message.channel.id}>",
                excerpt=excerpt(message.content),
            )[:2000],
            level=action.level or 1,
            now=utcnow(),
        )
        if issued.fired:
            self.bot.scheduler.wake()  # the automations' actions are due now
        await self.enforcer.post_case(guild, issued.case)
        await self.enforcer.notify(
            member,
            guild,
            "warned",
            title,
            extra=_("Warning `{id}`, level {level}").format(
                id=issued.warning.warn_id, level=issued.warning.level
            ),
        )
        outcome.warning_id, outcome.case_id = issued.warning.id, issued.case.id
        outcome.done.append(
            _("warned ({id}, level {level})").format(
                id=issued.warning.warn_id, level=issued.warning.level
            )
        )

    async def report(
        self,
        message: discord.Message,
        member: discord.Member,
        firing: Firing,
        outcome: Outcome,
        *,
        escalated: bool,
    ) -> None:
        guild = member.guild
        rule = firing.rule
        embed = discord.Embed(
            title=_("Automod: {rule}").format(rule=rule.name),
            description=_("{member} in {channel}: {reason}").format(
                member=member.mention, channel=f"<#{message.channel.id}>", reason=firing.reason
            ),
            colour=RED if outcome.removed else ORANGE,
        )
        embed.add_field(
            name=_("Message"),
            value=clip(excerpt(message.content) or _("(no text)")),
            inline=False,
        )
        embed.add_field(name=_("Done"), value=clip(", ".join(outcome.done) or _("nothing")))
        if escalated and rule.escalation is not None:
            embed.add_field(name=_("Escalation"), value=rule.escalation.describe())
        embed.set_footer(
            text=_("Rule {rule} · member {member}").format(rule=rule.rule_id, member=member.id)
        )
        config = await self.bot.guild_configs.get(guild.id)
        await post_log(guild, config, LogEvent.AUTOMOD, embed)

    # --------------------------------------------------------------------------------------------
    # Commands

    @automod_group.command(name="add", description="Add an automod rule (on at once).")
    @app_commands.describe(
        name="A name for the rule, shown in logs, cases and warnings",
        kind="What the rule looks for",
        actions=f"What to do, separated by commas: {ACTION_FORMS}",
        pattern="words: words or phrases, by commas; regex: the pattern; attachments: file "
        "types (exe, application/*)",
        allow="invites: codes or server ids allowed; links: the only domains allowed (by commas)",
        deny="links: domains to refuse (by commas)",
        whole_word="words: match whole words only (default) or anywhere inside words",
        threshold="caps: percent of capitals; emoji, mentions: most allowed in one message",
        min_account_age="new_account: the youngest account that may speak, e.g. 7d",
        exempt_roles="Roles the rule ignores (mentions or ids, by spaces)",
        exempt_channels="Channels or categories the rule ignores (mentions or ids)",
        escalation=f"Also act when one member hits it often: {ESCALATION_FORM}",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        kind: KindName,
        actions: app_commands.Range[str, 1, 200],
        pattern: app_commands.Range[str, 1, 4000] | None = None,
        allow: app_commands.Range[str, 1, 2000] | None = None,
        deny: app_commands.Range[str, 1, 2000] | None = None,
        whole_word: bool | None = None,
        threshold: app_commands.Range[int, 1, 200] | None = None,
        min_account_age: app_commands.Range[str, 1, 20] | None = None,
        exempt_roles: app_commands.Range[str, 1, 1000] | None = None,
        exempt_channels: app_commands.Range[str, 1, 1000] | None = None,
        escalation: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        rule = await automod.add_rule(
            guild_id=guild.id,
            actor_id=interaction.user.id,
            name=name,
            kind=automod.RuleKind(kind),
            actions=automod.parse_actions(actions),
            pattern=pattern,
            allow=allow,
            deny=deny,
            whole_word=whole_word,
            threshold=threshold,
            min_account_age=min_account_age,
            exempt_roles=check_roles(guild, parse_ids(exempt_roles, prefix="<@&")),
            exempt_channels=check_channels(guild, parse_ids(exempt_channels, prefix="<#")),
            escalation=automod.parse_escalation(escalation),
        )
        await interaction.response.send_message(
            embed=rule_embed(rule, _("Automod rule added: {rule}").format(rule=rule.name)),
            ephemeral=True,
        )

    @automod_group.command(name="edit", description="Change an automod rule; give what changes.")
    @app_commands.describe(
        rule=RULE_ID_HELP,
        name="A new name",
        actions=f"New actions, by commas: {ACTION_FORMS}",
        pattern="New words, pattern or file types (replaces the old ones)",
        allow="New allowed invite codes or domains (replaces the old ones)",
        deny="New denied domains (replaces the old ones)",
        whole_word="words: whole words only, or anywhere inside words",
        threshold="New threshold (caps: percent; emoji, mentions: most allowed)",
        min_account_age="new_account: the youngest account that may speak, e.g. 7d",
        exempt_roles="Roles the rule ignores, replacing the old ones (`none` for none)",
        exempt_channels="Channels the rule ignores, replacing the old ones (`none` for none)",
        escalation=f"{ESCALATION_FORM}, or `none` to remove it",
        enabled="Switch the rule on or off",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def edit(
        self,
        interaction: discord.Interaction,
        rule: app_commands.Range[str, 1, 20],
        name: app_commands.Range[str, 1, 100] | None = None,
        actions: app_commands.Range[str, 1, 200] | None = None,
        pattern: app_commands.Range[str, 1, 4000] | None = None,
        allow: app_commands.Range[str, 1, 2000] | None = None,
        deny: app_commands.Range[str, 1, 2000] | None = None,
        whole_word: bool | None = None,
        threshold: app_commands.Range[int, 1, 200] | None = None,
        min_account_age: app_commands.Range[str, 1, 20] | None = None,
        exempt_roles: app_commands.Range[str, 1, 1000] | None = None,
        exempt_channels: app_commands.Range[str, 1, 1000] | None = None,
        escalation: app_commands.Range[str, 1, 100] | None = None,
        enabled: bool | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        changes: dict[str, object] = {}
        if escalation is not None:
            changes["escalation"] = automod.parse_escalation(escalation)
        if exempt_roles is not None:
            changes["exempt_roles"] = check_roles(guild, parse_ids(exempt_roles, prefix="<@&"))
        if exempt_channels is not None:
            changes["exempt_channels"] = check_channels(
                guild, parse_ids(exempt_channels, prefix="<#")
            )
        edited = await automod.edit_rule(
            guild_id=guild.id,
            rule_id=rule,
            actor_id=interaction.user.id,
            name=name,
            actions=automod.parse_actions(actions) if actions is not None else None,
            pattern=pattern,
            allow=allow,
            deny=deny,
            whole_word=whole_word,
            threshold=threshold,
            min_account_age=min_account_age,
            enabled=enabled,
            **changes,  # type: ignore[arg-type]
        )
        await interaction.response.send_message(
            embed=rule_embed(edited, _("Automod rule changed: {rule}").format(rule=edited.name)),
            ephemeral=True,
        )

    @automod_group.command(name="remove", description="Delete an automod rule (asks first).")
    @app_commands.describe(rule=RULE_ID_HELP)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def remove(
        self, interaction: discord.Interaction, rule: app_commands.Range[str, 1, 20]
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        found = await automod.get_rule(guild.id, rule)

        async def delete(click: discord.Interaction) -> None:
            removed = await automod.remove_rule(
                guild_id=guild.id, rule_id=found.rule_id, actor_id=interaction.user.id
            )
            await click.response.edit_message(
                content=_(
                    "Automod rule `{id}` **{name}** deleted; its hits stay on record."
                ).format(id=removed.rule_id, name=removed.name),
                view=None,
            )

        await confirm(
            interaction,
            _("Delete automod rule `{id}` **{name}**?").format(id=found.rule_id, name=found.name),
            delete,
            confirm_label=N_("Delete"),
        )

    @automod_group.command(name="list", description="List this server's automod rules.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def list_(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        assert guild is not None
        rules = await automod.list_rules(guild.id)
        if not rules:
            await interaction.response.send_message(
                _("This server has no automod rules yet: add one with `/automod add`."),
                ephemeral=True,
            )
            return
        embed = discord.Embed(
            title=_("Automod rules ({count})").format(count=len(rules)),
            description=clip("\n".join(rule_line(rule) for rule in rules), 4096),
            colour=GREEN,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @automod_group.command(
        name="test", description="Say which rules a sample message would set off (acts on none)."
    )
    @app_commands.describe(message="The text to test against this server's enabled rules")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def test(
        self, interaction: discord.Interaction, message: app_commands.Range[str, 1, 4000]
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        # Compiling every rule and asking Discord about invites can outlast the 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        rules = await automod.compile_rules(await automod.list_rules(guild.id))
        fired = rules.evaluate(MessageFacts(content=message), exemptions=False)
        fired = await self.without_allowed_invites(guild.id, fired)
        if not fired:
            text = ngettext(
                "No rule fires on this message ({count} enabled rule checked).",
                "No rule fires on this message ({count} enabled rules checked).",
                len(rules),
            ).format(count=len(rules))
        else:
            lines = [
                f"`{f.rule.rule_id}` **{discord.utils.escape_markdown(f.rule.name)}**: "
                f"{f.reason} → {f.rule.describe_actions()}"
                for f in fired
            ]
            heading = ngettext(
                "{count} rule would fire (nothing was done):",
                "{count} rules would fire (nothing was done):",
                len(fired),
            ).format(count=len(fired))
            text = heading + "\n" + "\n".join(lines)
        await interaction.followup.send(clip(text, 2000), ephemeral=True)


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Automod(bot))
