"""Moderation over HTTP: cases, warnings, warning automations and the blacklist.

The rules are the slash commands' own: the same service functions, the same refusals. What
depends on Discord (whom the key's owner outranks, whether a role or channel exists, whether the
bot may post somewhere) is read from the bot's cache when the bot serves the API; the web
process alone cannot see it and refuses with a sentence that says where it can be done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import discord
from tortoise.expressions import Q

from models.moderation import MemberWarning, ModCase, WarningAutomation
from models.security import Blacklist
from pegasus.errors import PermissionDenied, ValidationError, shown_input
from pegasus.services import moderation
from pegasus.services.durations import parse_duration
from pegasus.services.ids import check_snowflake
from pegasus.services.moderation import (
    Automation,
    AutomationActionType,
    BlacklistEntityType,
    BlacklistEntry,
    Case,
    CaseType,
    Simulation,
    WarningChange,
    WarningRecord,
)
from pegasus.services.moderation.warnings import counting_filter
from pegasus.services.role_delegations import RoleFacts
from pegasus.ui.hierarchy import check_blacklist_target, check_record_change
from pegasus.web.bot_cache import (
    blacklist_cache,
    bot_owner_ids,
    cached_guild,
    check_notify_channel,
)
from pegasus.web.pagination import keyset_page
from pegasus.web.roles import remember_role_setup, require_can_delegate
from pegasus.web.routes import Call, Page, Param, Routes

__all__ = ["routes"]

routes = Routes(
    "moderation", "Cases, warnings, warning automations and the blacklist, as the commands keep."
)

CASE_NUMBER = Param(
    "case_number", int, "The case number, as in the modlog.", location="path", minimum=1,
    maximum=2**31 - 1,
)
WARN_ID = Param("warn_id", str, "The warning's id, e.g. W-7K2QX.", location="path")
AUTOMATION_ID = Param("automation_id", str, "The automation's id, e.g. A-7K2QX.", location="path")
MEMBER_FILTER = Param("user_id", int, "Only those about this member.", minimum=1)
MODERATOR_FILTER = Param("moderator_id", int, "Only those recorded by this moderator.", minimum=1)
API_ELSEWHERE = "use {} in Discord, or the API served by the bot itself"
KINDS_HERE = ", ".join(str(kind) for kind in moderation.GUILD_KINDS)


# -- what only the bot's process can tell -----------------------------------------------------


def _cached_guild(call: Call, needs: str, where: str) -> discord.Guild:
    """The server as the bot's cache has it; `where` names the command that does it in
    Discord."""
    return cached_guild(call, needs, API_ELSEWHERE.format(where))


def _acting_member(call: Call, guild: discord.Guild) -> discord.Member:
    member = guild.get_member(call.actor_id)
    if member is None:
        raise PermissionDenied(
            "The key's owner is not a member of this server, so their roles can't be checked."
        )
    return member


def _check_record_change(
    call: Call, *, verb: str, record: str, subject_id: int | None, issuer_id: int | None,
    where: str,
) -> None:
    """The hierarchy of `/warn` for changing a case or a warning, as the key's owner."""
    guild = _cached_guild(call, "the roles of the key's owner", where)
    check_record_change(
        guild,
        _acting_member(call, guild),
        verb=verb,
        record=record,
        subject_id=subject_id,
        issuer_id=issuer_id,
    )


# -- cases ------------------------------------------------------------------------------------


def _case_type(text: str | None) -> CaseType | None:
    if text is None:
        return None
    try:
        return CaseType(text.strip().lower())
    except ValueError:
        accepted = ", ".join(kind.value for kind in CaseType)
        raise ValidationError(
            f"{shown_input(text)} is not a kind of case: use {accepted}."
        ) from None


@routes.get(
    "/guilds/{guild_id}/cases",
    scope="moderation:read",
    summary="List cases",
    params=[
        MEMBER_FILTER,
        MODERATOR_FILTER,
        Param("type", str, "Only cases of this kind (ban, kick, warn, mute, timeout, ...)."),
        Param("active", bool, "Only running (true) or no longer running (false) punishments."),
    ],
    response=Case,
    paginated=True,
)
async def list_cases(call: Call) -> Page[Case]:
    """Newest first."""
    query = ModCase.filter(guild_id=call.guild_id)
    if call.param("user_id") is not None:
        query = query.filter(user_id=call.param("user_id"))
    if call.param("moderator_id") is not None:
        query = query.filter(moderator_id=call.param("moderator_id"))
    kind = _case_type(call.param("type"))
    if kind is not None:
        query = query.filter(type=kind)
    if call.param("active") is not None:
        query = query.filter(active=call.param("active"))
    return await keyset_page(call, query, order=("-case_number", "-id"), item=Case.from_row)


@routes.get(
    "/guilds/{guild_id}/cases/{case_number}",
    scope="moderation:read",
    summary="Read a case",
    params=[CASE_NUMBER],
    response=Case,
)
async def get_case(call: Call) -> Case:
    return await moderation.get_case(call.guild_id, call.param("case_number"))


@dataclass(frozen=True)
class ReasonChange:
    reason: str = field(metadata={"description": "The new reason (at most 1,000 characters)."})


@routes.patch(
    "/guilds/{guild_id}/cases/{case_number}",
    scope="moderation:write",
    summary="Change the reason of a case",
    params=[CASE_NUMBER],
    body=ReasonChange,
    response=Case,
    audit_fallback=False,  # amend_reason audits the old and the new reason
)
async def change_case_reason(call: Call) -> Case:
    """As `/reason`: the key's owner must outrank the case's member and, without Manage
    Server, its moderator; who changed it and when are kept. Only the bot's own process can
    check those roles."""
    body: ReasonChange = call.body
    existing = await moderation.get_case(call.guild_id, call.param("case_number"))
    moderation.clean_reason(body.reason)  # a refused reason is refused before the roles
    _check_record_change(
        call,
        verb="change the reason of",
        record="a case",
        subject_id=existing.user_id,
        issuer_id=existing.moderator_id,
        where="/reason",
    )
    case, _old = await moderation.amend_reason(
        call.guild_id, existing.case_number, body.reason, editor_id=call.actor_id, now=call.now
    )
    bot = call.web.bot
    if bot is not None:
        bot.dispatch("case_reason_changed", case)  # the moderation cog updates the modlog post
    return case


# -- warnings ---------------------------------------------------------------------------------


@routes.get(
    "/guilds/{guild_id}/warnings",
    scope="moderation:read",
    summary="List warnings",
    params=[
        MEMBER_FILTER,
        MODERATOR_FILTER,
        Param("counting", bool, "Only warnings that count now (true) or only those that no "
              "longer do: removed or expired (false)."),
    ],
    response=WarningRecord,
    paginated=True,
)
async def list_warnings(call: Call) -> Page[WarningRecord]:
    """Newest first."""
    query = MemberWarning.filter(guild_id=call.guild_id)
    if call.param("user_id") is not None:
        query = query.filter(user_id=call.param("user_id"))
    if call.param("moderator_id") is not None:
        query = query.filter(moderator_id=call.param("moderator_id"))
    counting = call.param("counting")
    if counting is not None:
        condition = counting_filter(call.now)
        query = query.filter(condition if counting else ~condition)
    return await keyset_page(
        call, query, order=("-created_at", "-id"), item=WarningRecord.from_row
    )


@routes.get(
    "/guilds/{guild_id}/warnings/{warn_id}",
    scope="moderation:read",
    summary="Read a warning",
    params=[WARN_ID],
    response=WarningRecord,
)
async def get_warning(call: Call) -> WarningRecord:
    return await moderation.get_warning(call.guild_id, call.param("warn_id"))


@dataclass(frozen=True)
class WarningHistory:
    """A warning and every change made to it (edits, removal, expiry), oldest first."""

    warning: WarningRecord
    changes: list[WarningChange]


@routes.get(
    "/guilds/{guild_id}/warnings/{warn_id}/history",
    scope="moderation:read",
    summary="Read a warning's history",
    params=[WARN_ID],
    response=WarningHistory,
)
async def get_warning_history(call: Call) -> WarningHistory:
    warning, changes = await moderation.warning_history(call.guild_id, call.param("warn_id"))
    return WarningHistory(warning, changes)


@routes.delete(
    "/guilds/{guild_id}/warnings/{warn_id}",
    scope="moderation:write",
    summary="Remove a warning",
    params=[WARN_ID, Param("reason", str, "Why it is removed (kept with it).")],
    response=WarningRecord,
)
async def remove_warning(call: Call) -> WarningRecord:
    """As `/warning remove`: the warning stops counting and stays on record, with who removed
    it and why. The key's owner must outrank its member and, without Manage Server, its
    moderator (checked by the bot's own process only)."""
    warning = await moderation.get_warning(call.guild_id, call.param("warn_id"))
    _check_record_change(
        call,
        verb="remove",
        record="a warning",
        subject_id=warning.user_id,
        issuer_id=warning.moderator_id,
        where="/warning remove",
    )
    return await moderation.remove_warning(
        call.guild_id,
        warning.warn_id,
        remover_id=call.actor_id,
        now=call.now,
        reason=call.param("reason"),
    )


# -- automations ------------------------------------------------------------------------------


@routes.get(
    "/guilds/{guild_id}/automations",
    scope="moderation:read",
    summary="List warning automations",
    response=Automation,
    paginated=True,
)
async def list_automations(call: Call) -> Page[Automation]:
    """Oldest first, as `/automation list` shows them."""
    query = WarningAutomation.filter(guild_id=call.guild_id)
    return await keyset_page(call, query, order=("created_at", "id"), item=Automation.from_row)


@routes.get(
    "/guilds/{guild_id}/automations/{automation_id}",
    scope="moderation:read",
    summary="Read a warning automation",
    params=[AUTOMATION_ID],
    response=Automation,
)
async def get_automation(call: Call) -> Automation:
    return await moderation.get_automation(call.guild_id, call.param("automation_id"))


@dataclass(frozen=True)
class AutomationStep:
    """One thing the rule does: timeout (with a duration), mute, kick, ban (each with an optional
    duration), give a role (`role_id`) or send a message."""

    type: AutomationActionType
    duration_seconds: int | None = None
    role_id: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class NewAutomation:
    """A rule as `/automation add` takes it; off unless `enabled`, so it can be simulated."""

    name: str
    trigger_type: moderation.TriggerType
    trigger_value: int
    actions: list[AutomationStep]
    window_days: int | None = None
    notify_channel_id: int | None = None
    description: str | None = None
    enabled: bool = False


def _seconds(value: int | None) -> int | None:
    """A duration in seconds, held to the bounds (and sentences) of a typed duration."""
    return None if value is None else parse_duration(str(value))


async def _steps(
    call: Call, steps: list[AutomationStep]
) -> tuple[list[dict[str, Any]], list[RoleFacts]]:
    """The rule's actions, checked as `/automation add` checks them, and the roles it gives:
    each one the key's owner could give themselves (the one rule for roles given on someone's
    behalf)."""
    actions = [
        moderation.build_action(
            step.type,
            duration_seconds=_seconds(step.duration_seconds),
            role_id=step.role_id,
            message=step.message,
        )
        for step in steps
    ]
    roles = []
    for action in actions:
        if "role_id" in action:
            check_snowflake(action["role_id"], what="a role id")
            roles.append(await require_can_delegate(call, action["role_id"]))
    return actions, roles


@routes.post(
    "/guilds/{guild_id}/automations",
    scope="moderation:write",
    summary="Create a warning automation",
    body=NewAutomation,
    response=Automation,
    status=201,
    idempotent=True,
    audit_fallback=False,  # add_automation audits the rule it created
)
async def create_automation(call: Call) -> Automation:
    """As `/automation add`: a role step gives a role the key's owner could give themselves,
    and they are recorded as who set it up."""
    body: NewAutomation = call.body
    actions, roles = await _steps(call, body.actions)
    check_notify_channel(
        call, body.notify_channel_id, API_ELSEWHERE.format("/automation add")
    )
    created = await moderation.add_automation(
        call.guild_id,
        name=body.name,
        trigger_type=body.trigger_type,
        trigger_value=body.trigger_value,
        window_days=body.window_days,
        actions=actions,
        notify_channel_id=body.notify_channel_id,
        description=body.description,
        enabled=body.enabled,
        actor_id=call.actor_id,
        now=call.now,
    )
    for role in roles:
        await remember_role_setup(call, role)
    return created


@routes.post(
    "/guilds/{guild_id}/automations/{automation_id}/toggle",
    scope="moderation:write",
    summary="Switch a warning automation on or off",
    params=[AUTOMATION_ID],
    response=Automation,
    audit_fallback=False,  # toggle_automation audits before and after
)
async def toggle_automation(call: Call) -> Automation:
    return await moderation.toggle_automation(
        call.guild_id, call.param("automation_id"), actor_id=call.actor_id, now=call.now
    )


@routes.delete(
    "/guilds/{guild_id}/automations/{automation_id}",
    scope="moderation:write",
    summary="Delete a warning automation",
    params=[AUTOMATION_ID],
    response=Automation,
    audit_fallback=False,  # remove_automation audits the rule it deleted
)
async def remove_automation(call: Call) -> Automation:
    """Answers the rule as it was."""
    return await moderation.remove_automation(
        call.guild_id, call.param("automation_id"), actor_id=call.actor_id, now=call.now
    )


@routes.get(
    "/guilds/{guild_id}/automations/{automation_id}/simulation",
    scope="moderation:read",
    summary="Simulate a warning automation",
    params=[AUTOMATION_ID],
    response=Simulation,
)
async def simulate_automation(call: Call) -> Simulation:
    """Whom the rule would have hit over the stored warnings (removed ones left out), as
    `/automation simulate` counts them."""
    return await moderation.simulate(call.guild_id, call.param("automation_id"))


# -- blacklist --------------------------------------------------------------------------------


def _kind(text: str) -> BlacklistEntityType:
    try:
        return BlacklistEntityType(text.strip().lower())
    except ValueError:
        raise ValidationError(
            f"{shown_input(text)} is not something a server blacklists: use {KINDS_HERE}."
        ) from None


@routes.get(
    "/guilds/{guild_id}/blacklist",
    scope="moderation:read",
    summary="List the server's blacklist",
    params=[Param("kind", str, f"Only entries of this kind ({KINDS_HERE}).")],
    response=BlacklistEntry,
    paginated=True,
)
async def list_blacklist(call: Call) -> Page[BlacklistEntry]:
    """The server's live entries, newest first (bot-wide entries are the bot owners')."""
    live = Q(expires_at=None) | Q(expires_at__gt=call.now)
    query = Blacklist.filter(live, guild_id=call.guild_id, active=True)
    if call.param("kind") is not None:
        query = query.filter(entity_type=_kind(call.param("kind")))
    return await keyset_page(
        call, query, order=("-created_at", "-id"), item=BlacklistEntry.from_row
    )


@dataclass(frozen=True)
class NewBlacklistEntry:
    """Whom or what to block in this server, why, and for how long (empty: until removed)."""

    kind: BlacklistEntityType
    entity_id: int
    reason: str
    duration_seconds: int | None = None


@routes.post(
    "/guilds/{guild_id}/blacklist",
    scope="moderation:write",
    summary="Blacklist a user, role or channel",
    body=NewBlacklistEntry,
    response=BlacklistEntry,
    status=201,
    idempotent=True,
    audit_fallback=False,  # add_entry audits the entry
)
async def add_to_blacklist(call: Call) -> BlacklistEntry:
    """As `/blacklist add`: never yourself, the bot, its owners or the server's admins; a role
    or channel must be the server's. Checked by the bot's own process only."""
    body: NewBlacklistEntry = call.body
    kind = BlacklistEntityType(body.kind)
    check_snowflake(body.entity_id, what=f"a {kind} id")
    if kind not in moderation.GUILD_KINDS:
        raise ValidationError(
            "A server blacklists users, roles and channels; servers are blacklisted bot-wide."
        )
    seconds = _seconds(body.duration_seconds)
    guild = _cached_guild(call, "the server's members, roles and channels", "/blacklist add")
    check_blacklist_target(
        guild, call.actor_id, kind, body.entity_id, wide=False, owner_ids=bot_owner_ids(call.web)
    )
    return await moderation.add_entry(
        kind,
        body.entity_id,
        guild_id=call.guild_id,
        actor_id=call.actor_id,
        reason=body.reason,
        now=call.now,
        duration_seconds=seconds,
        cache=blacklist_cache(call.web),
    )


@routes.delete(
    "/guilds/{guild_id}/blacklist/{kind}/{entity_id}",
    scope="moderation:write",
    summary="Lift a blacklist entry",
    params=[
        Param("kind", str, f"What kind of entry ({KINDS_HERE}).", location="path"),
        Param("entity_id", int, "The user's, role's or channel's id.", location="path",
              minimum=1),
    ],
    response=BlacklistEntry,
    audit_fallback=False,  # remove_entry audits the entry before and after
)
async def remove_from_blacklist(call: Call) -> BlacklistEntry:
    """The entry is kept, made inactive; answers it as it is now."""
    return await moderation.remove_entry(
        _kind(call.param("kind")),
        call.param("entity_id"),
        guild_id=call.guild_id,
        actor_id=call.actor_id,
        now=call.now,
        cache=blacklist_cache(call.web),
    )

