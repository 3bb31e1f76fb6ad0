"""The settings history of a guild, and "Restore this version".

`/dashboard/guilds/{id}/history` lists the guild's audit log through the one reader every adapter
uses (`pegasus.services.log_readers`), newest first, a keyset page at a time, filtered by feature
and by person: for each change who made it (the name Discord gives, as the API shows names), when,
from where (a command, the API, the dashboard) and the keys it changed, old → new.

A change of declared settings can be restored: a first POST shows what would be set and asks to
confirm; the second applies the entry's before-values through `apply_changes` (the declaration's
validation and rules, the same role rule as the API for roles the bot gives, audited with source
web and the person as actor). A value that would now break a rule (a deleted channel, a role now
above the person) is refused with the sentence, and nothing changes. If the settings changed again
since, the restore still sets that entry's before-values, and the confirmation says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import aiohttp
from aiohttp import web

from models.security import AuditSource
from pegasus.errors import ConflictError, PegasusError, ValidationError, channel_ref, role_ref
from pegasus.i18n import N_, _, format_utc
from pegasus.services.audit import acting_from
from pegasus.services.dashboard import DashboardGuild, DashboardSession
from pegasus.services.log_readers import (
    AuditEntry,
    AuditFilter,
    audit_actors,
    audit_features,
    read_audit_after,
    read_audit_entry,
)
from pegasus.services.settings import (
    FeatureSettings,
    Kind,
    apply_changes,
    declared,
    read_settings,
    settings_version,
)
from pegasus.web.dashboard.forms import person_names
from pegasus.web.dashboard.pages import (
    DASHBOARD_PREFIX,
    managed_guild,
    needs_session,
    not_found,
    person_context,
    render,
)
from pegasus.web.discord_names import GuildNames, NameSource
from pegasus.web.pagination import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from pegasus.web.app import WebState
    from pegasus.web.routes import Call

__all__ = ["add_routes"]

PER_PAGE = 25
SOURCES = {
    AuditSource.DISCORD: N_("command"),
    AuditSource.API: N_("API"),
    AuditSource.WEB: N_("web"),
}
UNREADABLE_NAMES = N_(
    "This server's channels and roles can't be read from Discord right now, so the old values "
    "can't be checked; nothing was changed. Try again in a minute."
)


def add_routes(app: web.Application) -> None:
    base = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/history"
    app.router.add_get(base, history_page)
    app.router.add_post(f"{base}/{{entry_id}}/restore", restore)


# what a change looks like ---------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One key of an entry as shown: its label, old and new value in words."""

    key: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class ShownEntry:
    entry: AuditEntry
    feature: str
    who: str
    source: str
    changes: tuple[Change, ...]
    restorable: bool


def source_word(source: AuditSource) -> str:
    return _(SOURCES[source]) if source in SOURCES else source.value


def settings_spec(entry: AuditEntry) -> FeatureSettings | None:
    """The declaration whose settings the entry changed, if it is a change of declared settings
    that can be set back (every key it changed still declared, a before-state recorded)."""
    if entry.before is None or entry.target_type is None:
        return None
    keys = set(changed_keys(entry))
    for spec in declared().values():
        if spec.model._meta.db_table == entry.target_type and keys and keys <= set(spec.by_name):
            return spec
    return None


def changed_keys(entry: AuditEntry) -> list[str]:
    before, after = entry.before or {}, entry.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [key for key in keys if before.get(key) != after.get(key)]


def shown_value(
    spec: FeatureSettings | None, key: str, value: Any, names: GuildNames | None
) -> str:
    """A value as people read it: the declaration's words, channels and roles by name."""
    if spec is None or key not in spec:
        return _("not set") if value is None else _plain(value)
    setting = spec[key]
    if value is None:
        return setting.show(value)
    if setting.kind is Kind.CHANNEL:
        return _channel(names, value)
    if setting.kind is Kind.ROLE:
        return _role(names, value)
    if setting.kind is Kind.IDS and isinstance(value, list):
        return ", ".join(_channel_or_role(names, item) for item in value) or _("none")
    try:
        return setting.show(value)
    except (TypeError, ValueError):  # a value stored before the declaration changed
        return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return _("on") if value else _("off")
    if isinstance(value, list):
        return ", ".join(map(str, value)) or _("none")
    return str(value)


def _channel(names: GuildNames | None, channel_id: Any) -> str:
    name = names.channel_name(channel_id) if names is not None else None
    if name:
        return f"#{name}"
    return _("channel {id} (deleted or unknown)").format(id=channel_id)


def _role(names: GuildNames | None, role_id: Any) -> str:
    name = names.role_name(role_id) if names is not None else None
    if name:
        return f"@{name}"
    return _("role {id} (deleted or unknown)").format(id=role_id)


def _channel_or_role(names: GuildNames | None, item: Any) -> str:
    if names is not None and names.channel_name(item):
        return _channel(names, item)
    return _role(names, item)


def _changes(
    entry: AuditEntry, spec: FeatureSettings | None, names: GuildNames | None
) -> tuple[Change, ...]:
    before, after = entry.before or {}, entry.after or {}
    return tuple(
        Change(
            key=key,
            label=_(spec[key].label) if spec is not None and key in spec else key,
            old=shown_value(spec, key, before.get(key), names),
            new=shown_value(spec, key, after.get(key), names),
        )
        for key in changed_keys(entry)
    )


# Discord's answers --------------------------------------------------------------------------------
def _state(request: web.Request) -> WebState:
    from pegasus.web.app import STATE

    return request.app[STATE]


async def _guild_names(names: NameSource | None, guild_id: int) -> GuildNames | None:
    if names is None:
        return None
    try:
        return await names.guild_names(guild_id)
    except (aiohttp.ClientError, TimeoutError):
        return None


# the history page -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wanted:
    feature: str
    person: int | None
    cursor: tuple[datetime, uuid.UUID] | None


def _wanted(request: web.Request) -> Wanted:
    query = request.query
    person = query.get("person", "").strip()
    cursor = query.get("cursor", "").strip()
    after = None
    if cursor:
        moment, entry_id = decode_cursor(cursor, 2)
        if not isinstance(moment, datetime) or not isinstance(entry_id, uuid.UUID):
            raise ValidationError(_("This page's link is not one the history gave; start again."))
        after = (moment, entry_id)
    return Wanted(
        feature=query.get("feature", "").strip().lower(),
        person=int(person) if person.isdigit() and 0 < int(person) < 2**63 else None,
        cursor=after,
    )


@needs_session
async def history_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    try:
        wanted = _wanted(request)
    except ValidationError as error:
        nothing = Wanted("", None, None)
        return await _render_history(
            request, session, guild, nothing, [], None, error=error.plain()
        )
    filters = AuditFilter(actor_id=wanted.person, feature=wanted.feature or None)
    entries, next_cursor = await read_audit_after(
        guild.id, filters, after=wanted.cursor, limit=PER_PAGE
    )
    names = _state(request).names
    guild_names = await _guild_names(names, guild.id) if entries else None
    people = await person_names(names, {e.actor_id for e in entries if e.actor_id is not None})
    shown = [
        ShownEntry(
            entry=entry,
            feature=entry.feature,
            who=people.get(entry.actor_id, _("the bot")) if entry.actor_id else _("the bot"),
            source=source_word(entry.source),
            changes=_changes(entry, settings_spec(entry), guild_names),
            restorable=settings_spec(entry) is not None,
        )
        for entry in entries
    ]
    return await _render_history(request, session, guild, wanted, shown, next_cursor)


async def _render_history(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    wanted: Wanted,
    shown: list[ShownEntry],
    next_cursor: tuple[datetime, uuid.UUID] | None,
    *,
    error: str | None = None,
) -> web.Response:
    people = await person_names(_state(request).names, set(await audit_actors(guild.id)))
    query = {"feature": wanted.feature, "person": str(wanted.person or "")}
    return render(
        "history_page.html",
        status=400 if error else 200,
        session=session,
        guild=guild,
        entries=shown,
        features=await audit_features(guild.id),
        people=sorted(people.items(), key=lambda item: item[1].lower()),
        wanted=wanted,
        next_cursor=encode_cursor(list(next_cursor)) if next_cursor else None,
        query={key: value for key, value in query.items() if value},
        restored=request.query.get("restored", ""),
        unchanged=request.query.get("unchanged", ""),
        error=error,
        when=moment_words,
    )


def moment_words(moment: datetime) -> str:
    return format_utc(moment)


# restoring ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    """The person signed in, as the role rule asks who sets a role up (pegasus.web.roles)."""

    web: WebState
    guild_id: int
    actor_id: int


@needs_session
async def restore(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    entry = await _entry(guild.id, request.match_info["entry_id"])
    spec = settings_spec(entry) if entry is not None else None
    if entry is None or spec is None:
        return not_found(session)
    form = await request.post()
    old = {key: (entry.before or {}).get(key) for key in changed_keys(entry)}
    current = await read_settings(spec, guild.id)
    state = _state(request)
    guild_names = await _guild_names(state.names, guild.id)
    error = None
    if form.get("confirm") == "yes":
        try:
            await _apply(request, session, guild, spec, old, str(form.get("version", "")))
        except PegasusError as refusal:
            error = refusal.plain()
            current = await read_settings(spec, guild.id)
        else:
            done = "unchanged" if all(current.get(k) == v for k, v in old.items()) else "restored"
            raise web.HTTPSeeOther(
                f"{DASHBOARD_PREFIX}/guilds/{guild.id}/history?{done}={entry.id}"
            )
    changed_since = [key for key in old if current.get(key) != (entry.after or {}).get(key)]
    rows = [
        Change(
            key=key,
            label=_(spec[key].label),
            old=shown_value(spec, key, current.get(key), guild_names),
            new=shown_value(spec, key, value, guild_names),
        )
        for key, value in old.items()
    ]
    return render(
        "history_restore.html",
        status=409 if error else 200,
        session=session,
        guild=guild,
        entry=entry,
        feature=spec.feature,
        rows=rows,
        changed_since=[_(spec[key].label) for key in changed_since],
        unchanged=all(current.get(key) == value for key, value in old.items()),
        version=settings_version(current),
        error=error,
        when=moment_words,
    )


async def _entry(guild_id: int, raw: str) -> AuditEntry | None:
    try:
        entry_id = uuid.UUID(raw)
    except ValueError:
        return None
    return await read_audit_entry(guild_id, entry_id)


async def _apply(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    spec: FeatureSettings,
    old: Mapping[str, Any],
    version: str,
) -> None:
    """Set the old values back, checked as a change made now would be: the declaration, the
    channels and roles still existing, and the role rule for the person signed in."""
    from pegasus.web.api.settings import ROLE_CHECKS
    from pegasus.web.roles import remember_role_setup

    state = _state(request)
    current = await read_settings(spec, guild.id)
    values = spec.validate(old)
    await _require_existing(state.names, guild.id, spec, values, current)
    person = Person(web=state, guild_id=guild.id, actor_id=session.user_id)
    checks = ROLE_CHECKS.get(spec.feature, {})
    vetted = []
    for key, value in values.items():
        if key in checks:
            for role_id in _new_ids(value, current[key]):
                # The rule asks only who sets the role up, where, and through which application.
                vetted.append(await checks[key](cast("Call", person), role_id))
    context = person_context(request, session)
    with acting_from(context):
        await apply_changes(
            spec,
            guild.id,
            session.user_id,
            values,
            source=context.source,
            action=f"{spec.feature}.restore",
            context=context,
            expected_version=version or None,
        )
    for role in vetted:
        await remember_role_setup(person, role)


def _new_ids(value: Any, current: Any) -> list[int]:
    wanted = value if isinstance(value, list) else [value]
    held = current if isinstance(current, list) else [current]
    return [item for item in wanted if item is not None and item not in held]


async def _require_existing(
    names: NameSource | None,
    guild_id: int,
    spec: FeatureSettings,
    values: Mapping[str, Any],
    current: Mapping[str, Any],
) -> None:
    """Refuse a channel or role the old values name that the server no longer has (a value
    still set now is not asked again, as the API does not)."""
    new = {
        key: _new_ids(value, current[key])
        for key, value in values.items()
        if spec[key].kind in (Kind.CHANNEL, Kind.ROLE, Kind.IDS)
    }
    if not any(new.values()):
        return
    guild_names = await _guild_names(names, guild_id)
    if guild_names is None:
        raise ConflictError(_(UNREADABLE_NAMES))
    for key, ids in new.items():
        kind = spec[key].kind
        for item in ids:
            if kind is Kind.CHANNEL and not guild_names.is_text_channel(item):
                raise ValidationError(
                    _(
                        "{channel} no longer exists in this server (or is not a text channel), "
                        "so the {setting} can't be set back to it; nothing was changed."
                    ).format(channel="{channel}", setting=_(spec[key].label)),
                    channel=channel_ref(item),
                )
            if kind is Kind.ROLE and guild_names.role_name(item) is None:
                raise ValidationError(
                    _(
                        "{role} no longer exists in this server, so the {setting} can't be set "
                        "back to it; nothing was changed."
                    ).format(role="{role}", setting=_(spec[key].label)),
                    role=role_ref(item),
                )
            if kind is Kind.IDS and not (
                guild_names.channel_name(item) or guild_names.role_name(item)
            ):
                raise ValidationError(
                    _(
                        "{id} is no longer a channel or role of this server, so the {setting} "
                        "can't be set back to it; nothing was changed."
                    ).format(id=item, setting=_(spec[key].label))
                )
