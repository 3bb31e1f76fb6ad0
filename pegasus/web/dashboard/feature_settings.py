"""The dashboard's settings pages, one per feature, generated from the settings declarations.

Every `FeatureSettings` (`pegasus.services.settings`) becomes a form on the page of its feature
(`levels` and `levels.rules` on the Levels page): the right input per kind (a number with its
bounds, a checkbox, a text, a list of the guild's channels or roles by name), the declared help
under each label. A form is stored as the REST API's PATCH stores it: each value checked by the
declaration (its sentence shown next to the field, nothing stored), a channel or role id the
guild does not have refused next to its field (the list holds only the guild's, but a form can be
sent by hand; ids already stored pass, so a deleted channel does not block the form), a role
newly named checked by
the rule of the slash command that sets it (`pegasus.web.roles`, for the person signed in), then
`apply_changes`, audited with source `web`, the person as actor, their address hash and user
agent. The form carries the version of the values it showed: if someone changed them since, the
form is refused with a sentence (the API's 412) and nothing changes. The welcome, goodbye and
level-up messages are shown beside their field as Discord would show them (`previews`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from multidict import MultiDictProxy

from pegasus.errors import PegasusError
from pegasus.i18n import N_, _, current_locale
from pegasus.services.dashboard import DashboardGuild, DashboardSession
from pegasus.services.role_delegations import RoleFacts
from pegasus.services.settings import (
    FeatureSettings,
    Kind,
    Setting,
    StaleSettings,
    apply_changes,
    declared,
    read_settings,
    settings_version,
)
from pegasus.web.api.settings import ROLE_CHECKS
from pegasus.web.dashboard import pages as pages_module
from pegasus.web.dashboard import previews
from pegasus.web.dashboard.pages import (
    DASHBOARD_PREFIX,
    managed_guild,
    needs_session,
    person_context,
    render,
)
from pegasus.web.discord_names import GuildNames
from pegasus.web.roles import remember_role_setup

__all__ = ["PAGE_TITLES", "add_routes", "foreign_id_sentence", "guild_options", "page_of"]

# The pages, in the order the guild page lists them; a declared feature without a title here
# gets a page titled after its name.
PAGE_TITLES = {
    "levels": N_("Levels"),
    "economy": N_("Economy"),
    "moderation": N_("Moderation"),
    "tickets": N_("Tickets"),
    "community": N_("Community"),
    "security": N_("Security"),
    "retention": N_("Data retention"),
    "web": N_("Public pages"),
}
SECTION_TITLES = {
    "levels": N_("Levels and level-ups"),
    "levels.rules": N_("XP rules and rewards"),
    "security": N_("Alerts, anti-raid and anti-spam"),
    "security.raid": N_("Raid response"),
    "security.verification": N_("Verification"),
    "community": N_("Welcome, goodbye, logging and autoroles"),
}
LONG_TEXT = 100  # a text that may be longer than this gets a text area


def page_of(feature: str) -> str:
    return feature.split(".")[0]


def _pages() -> dict[str, list[FeatureSettings]]:
    pages: dict[str, list[FeatureSettings]] = {}
    for feature, spec in sorted(declared().items()):
        pages.setdefault(page_of(feature), []).append(spec)
    return pages


def _page_title(page: str) -> str:
    return _(PAGE_TITLES[page]) if page in PAGE_TITLES else page.replace("_", " ").capitalize()


def add_routes(app: web.Application) -> None:
    base = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/settings/{{page}}"
    app.router.add_get(base, settings_page)
    app.router.add_post(f"{base}/{{feature}}", change_settings)
    # The guild page links each feature it lists to its settings page.
    links = {PAGE_TITLES.get(page) or _page_title(page): page for page in _ordered_pages()}
    pages_module._templates.globals["settings_links"] = links
    previews.add_routes(app)


# what a form shows ----------------------------------------------------------------------------
@dataclass
class Field:
    """One input of a form, ready for the template."""

    name: str
    label: str
    help: str
    control: str  # checkbox, number, text, textarea, select, multiselect, choices, colour, id
    value: str = ""
    checked: bool = False
    options: list[tuple[str, str, bool]] = field(default_factory=list)  # value, text, chosen
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    unit: str = ""
    required: bool = False
    error: str | None = None


@dataclass
class Form:
    feature: str
    title: str
    version: str
    fields: list[Field]
    error: str | None = None
    saved: bool = False
    # The message setting a preview follows → the message as Discord would show it.
    message_previews: dict[str, previews.MessagePreview] = field(default_factory=dict)

    @property
    def save_label(self) -> str:
        """ "Save economy", "Save XP rules and rewards": the title inside a sentence."""
        title = self.title
        if title[:2].isupper() or current_locale() == "de":  # German nouns keep their capital
            return title
        return title[:1].lower() + title[1:]

    def shown_values(self) -> dict[str, Any]:
        """What the form's fields show, by setting (a box by whether it is ticked)."""
        return {f.name: f.checked if f.control == "checkbox" else f.value for f in self.fields}

    def add_previews(self, viewer: previews.Viewer) -> None:
        shown = self.shown_values()
        for name, kind in previews.PREVIEWED.items():
            if name in shown:
                self.message_previews[name] = previews.message_preview(kind, shown, viewer)


def _is_role_list(setting: Setting) -> bool:
    return "role" in setting.name


def _field(
    spec: FeatureSettings,
    setting: Setting,
    value: Any,
    names: GuildNames | None,
    error: str | None,
) -> Field:
    label = _(setting.label)
    label = label[:1].upper() + label[1:]
    shown = Field(setting.name, label, _(setting.help), "text", error=error)
    kind = setting.kind
    if kind is Kind.BOOL:
        shown.control, shown.checked = "checkbox", bool(value)
        if any(s.label == setting.label for s in spec.settings if s is not setting):
            shown.label = _("{setting} on").format(
                setting=label
            )  # the switch of the setting of the same name
    elif kind in (Kind.INT, Kind.PERCENT, Kind.SECONDS):
        shown.control, shown.value = "number", "" if value is None else str(value)
        shown.minimum, shown.maximum = setting.minimum, setting.maximum
        shown.unit = {Kind.PERCENT: "%", Kind.SECONDS: _("seconds")}.get(kind, "")
        shown.required = not setting.nullable
    elif kind is Kind.TEXT:
        _text_field(shown, setting, value)
    elif kind is Kind.COLOUR:
        shown.control = "colour"
        shown.value = f"#{value:06X}" if isinstance(value, int) else (value or "")
    elif kind in (Kind.CHANNEL, Kind.ROLE):
        _one_of_guild(shown, setting, value, names)
    elif kind is Kind.IDS:
        _many_of_guild(shown, setting, value, names)
    elif kind is Kind.NAMES:
        chosen = set(value or [])
        shown.control = "choices"
        shown.options = [(name, name, name in chosen) for name in setting.choices or ()]
    return shown


def _text_field(shown: Field, setting: Setting, value: Any) -> None:
    text = "" if value is None else str(value)
    if setting.choices is not None:
        shown.control = "select"
        shown.options = [(choice, choice, choice == text) for choice in setting.choices]
        return
    long = setting.max_length is None or setting.max_length > LONG_TEXT
    shown.control = "textarea" if long else "text"
    shown.value, shown.max_length = text, setting.max_length
    shown.required = not setting.nullable


def _guild_options(
    setting: Setting, names: GuildNames, chosen: set[Any]
) -> list[tuple[str, str, bool]]:
    roles = setting.kind is Kind.ROLE or (setting.kind is Kind.IDS and _is_role_list(setting))
    return guild_options(names, roles=roles, chosen=chosen)


def guild_options(
    names: GuildNames, *, roles: bool, chosen: set[Any]
) -> list[tuple[str, str, bool]]:
    """The guild's roles, or its channels where settings may point, by name, as (id, name,
    chosen) for a <select>; a chosen id the guild no longer has stays listed, so saving the form
    does not drop it unseen. (Shared with the other pages that pick a role or a channel.)"""
    if roles:
        known = {i: f"@{n}" for i, n in names.roles.items() if n != "@everyone"}
    else:
        known = {i: f"#{n}" for i, (n, _kind) in names.channels.items() if names.is_text_channel(i)}
    options = [
        (str(i), text, i in chosen)
        for i, text in sorted(known.items(), key=lambda item: item[1].lower())
    ]
    missing = [i for i in chosen if isinstance(i, int) and i not in known]
    options += [(str(i), _("unknown ({id})").format(id=i), True) for i in missing]
    return options


def _one_of_guild(shown: Field, setting: Setting, value: Any, names: GuildNames | None) -> None:
    if names is None:  # Discord can't be asked: the id itself
        shown.control, shown.value = "id", "" if value is None else str(value)
        return
    shown.control = "select"
    shown.options = _guild_options(setting, names, {value})
    if setting.nullable:
        shown.options.insert(0, ("", _("not set"), value is None))


def _many_of_guild(shown: Field, setting: Setting, value: Any, names: GuildNames | None) -> None:
    chosen = list(value or [])
    if names is None:
        shown.control, shown.value = "id", " ".join(str(i) for i in chosen)
        return
    shown.control = "multiselect"
    shown.options = _guild_options(setting, names, set(chosen))


def _form(
    spec: FeatureSettings,
    values: Mapping[str, Any],
    version: str,
    names: GuildNames | None,
    errors: Mapping[str, str] | None = None,
) -> Form:
    errors = errors or {}
    return Form(
        feature=spec.feature,
        title=_(SECTION_TITLES[spec.feature])
        if spec.feature in SECTION_TITLES
        else _page_title(spec.feature),
        version=version,
        fields=[_field(spec, s, values[s.name], names, errors.get(s.name)) for s in spec.settings],
    )


# what a form sends ----------------------------------------------------------------------------
def _number(raw: str) -> Any:
    """A whole number, or what was typed (the declaration then refuses it with its sentence)."""
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        return text


def _sent_value(setting: Setting, form: MultiDictProxy[Any]) -> Any:
    """The value a form field sent, as the declaration checks values."""
    kind, raw = setting.kind, str(form.get(setting.name, ""))
    if kind is Kind.BOOL:
        return setting.name in form  # an unticked box sends nothing
    if kind is Kind.IDS:
        sent = [str(item) for item in form.getall(setting.name, [])]
        return [_number(part) for item in sent for part in item.replace(",", " ").split()]
    if kind is Kind.NAMES:
        return [str(item) for item in form.getall(setting.name, [])]
    if setting.nullable and not raw.strip():
        return None
    if kind in (Kind.INT, Kind.PERCENT, Kind.SECONDS, Kind.CHANNEL, Kind.ROLE):
        return _number(raw)
    if kind is Kind.COLOUR:
        digits = raw.strip().removeprefix("#")
        if len(digits) == 6 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return int(digits, 16)
        return raw
    return raw


def _read_form(
    spec: FeatureSettings, form: MultiDictProxy[Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every setting of the form as sent, and the declaration's refusal of each one it refuses."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for setting in spec.settings:
        values[setting.name] = _sent_value(setting, form)
        try:
            setting.check(values[setting.name])
        except PegasusError as refusal:
            errors[setting.name] = refusal.plain()
    return values, errors


def _in_guild_refusal(
    setting: Setting, listed: set[str], sent: list[Any], held: list[Any]
) -> str | None:
    """Why a channel or role id sent for `setting` is refused: the guild has no such channel
    (where settings may point) or role. Ids already stored are let through, so a channel deleted
    since does not block saving the rest of the form."""
    foreign = [i for i in sent if isinstance(i, int) and str(i) not in listed and i not in held]
    if not foreign:
        return None
    roles = setting.kind is Kind.ROLE or (setting.kind is Kind.IDS and _is_role_list(setting))
    return foreign_id_sentence(foreign[0], roles=roles)


def foreign_id_sentence(entity_id: int, *, roles: bool) -> str:
    """Why an id sent for a role or a channel of `guild_options` is refused."""
    if roles:
        return _("This server has no role with the id {id}: choose one from the list.").format(
            id=entity_id
        )
    return _("This server has no text channel with the id {id}: choose one from the list.").format(
        id=entity_id
    )


async def _refuse_foreign_ids(
    spec: FeatureSettings, values: Mapping[str, Any], guild_id: int, names: GuildNames | None
) -> dict[str, str]:
    """The channel and role settings of the form naming an id the guild does not have (unknown
    when Discord can't be asked: then nothing is refused here)."""
    kinds = (Kind.CHANNEL, Kind.ROLE, Kind.IDS)
    pointing = [s for s in spec.settings if s.kind in kinds]
    if names is None or not pointing:
        return {}
    current = await read_settings(spec, guild_id)
    errors: dict[str, str] = {}
    for setting in pointing:
        listed = {value for value, _text, _chosen in _guild_options(setting, names, set())}
        refusal = _in_guild_refusal(
            setting, listed, _as_list(values[setting.name]), _as_list(current[setting.name])
        )
        if refusal is not None:
            errors[setting.name] = refusal
    return errors


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Asker:
    """The person signed in, setting roles up in a guild (what `pegasus.web.roles` asks of)."""

    web: Any  # pegasus.web.app.WebState
    guild_id: int
    actor_id: int


async def _vet_new_roles(
    asker: Asker, spec: FeatureSettings, values: Mapping[str, Any], names: GuildNames | None
) -> tuple[list[RoleFacts], dict[str, str]]:
    """The roles the form newly names in role settings, each checked by the rule of the command
    that sets it; a refusal is kept for its field (a role already set is not checked again)."""
    checks = ROLE_CHECKS.get(spec.feature, {})
    if not checks:
        return [], {}
    current = await read_settings(spec, asker.guild_id)
    vetted: list[RoleFacts] = []
    errors: dict[str, str] = {}
    for name, check in checks.items():
        wanted = values[name] if isinstance(values[name], list) else [values[name]]
        held = current[name] if isinstance(current[name], list) else [current[name]]
        for role_id in (r for r in wanted if r is not None and r not in held):
            try:
                vetted.append(await check(asker, role_id))  # type: ignore[arg-type]
            except PegasusError as refusal:
                errors[name] = _sentence(refusal, names)
                break
    return vetted, errors


def _sentence(refusal: PegasusError, names: GuildNames | None) -> str:
    """The service's refusal, with the roles and channels it names by their names if known."""
    shown: dict[str, str] = {}
    for key, ref in refusal.refs.items():
        name = None
        if names is not None and ref.kind == "role":
            name = names.role_name(int(ref.value))
            name = name and f"@{name}"
        elif names is not None and ref.kind == "channel":
            name = names.channel_name(int(ref.value))
            name = name and f"#{name}"
        shown[key] = name or ref.plain()
    return refusal.template.format_map(shown) if shown else refusal.plain()


# pages ----------------------------------------------------------------------------------------
def _web_state(request: web.Request) -> Any:
    from pegasus.web.app import STATE

    return request.app[STATE]


async def _names(request: web.Request, guild_id: int) -> GuildNames | None:
    """The guild's channel and role names (the bot's cache, or Discord), or None if unknown."""
    source = _web_state(request).names
    if source is None:
        return None
    try:
        return await source.guild_names(guild_id)
    except (aiohttp.ClientError, TimeoutError):
        return None


def _specs_of(request: web.Request) -> tuple[str, list[FeatureSettings]] | None:
    page = request.match_info["page"]
    specs = _pages().get(page)
    return (page, specs) if specs else None


async def _show(
    request: web.Request,
    session: DashboardSession,
    guild: Any,
    page: str,
    specs: list[FeatureSettings],
    *,
    replaced: Form | None = None,
    status: int = 200,
) -> web.Response:
    names = await _names(request, guild.id)
    saved = request.query.get("saved")
    forms: list[Form] = []
    for spec in specs:
        if replaced is not None and replaced.feature == spec.feature:
            forms.append(replaced)
            continue
        values = await read_settings(spec, guild.id)
        form = _form(spec, values, settings_version(values), names)
        form.saved = saved == spec.feature
        forms.append(form)
    previewed = await _add_previews(request, session, guild, forms)
    return render(
        "feature_settings_page.html",
        status=status,
        session=session,
        guild=guild,
        title=_page_title(page),
        page=page,
        forms=forms,
        pages=[(key, _page_title(key)) for key in _ordered_pages()],
        preview_script=f"{DASHBOARD_PREFIX}/static/{previews.SCRIPT}" if previewed else None,
    )


async def _add_previews(
    request: web.Request, session: DashboardSession, guild: DashboardGuild, forms: list[Form]
) -> bool:
    """Give the forms that hold a message their preview; whether any form has one."""
    holding = [form for form in forms if any(f.name in previews.PREVIEWED for f in form.fields)]
    if not holding:
        return False
    viewer = await previews.viewer_of(request, session, guild)
    for form in holding:
        form.add_previews(viewer)
    previews.allow_script(request)
    return True


def _ordered_pages() -> list[str]:
    known = _pages()
    return [p for p in PAGE_TITLES if p in known] + sorted(set(known) - set(PAGE_TITLES))


@needs_session
async def settings_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    found = _specs_of(request)
    if found is None:
        raise web.HTTPNotFound()
    page, specs = found
    return await _show(request, session, guild, page, specs)


@needs_session
async def change_settings(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    found = _specs_of(request)
    feature = request.match_info["feature"]
    spec = next((s for s in found[1] if s.feature == feature), None) if found else None
    if found is None or spec is None:
        raise web.HTTPNotFound()
    page, specs = found
    form = await request.post()
    version = str(form.get("version", ""))
    values, errors = _read_form(spec, form)
    names = await _names(request, guild.id)
    asker = Asker(_web_state(request), guild.id, session.user_id)
    vetted: list[RoleFacts] = []
    if not errors:
        errors = await _refuse_foreign_ids(spec, values, guild.id, names)
    if not errors:
        vetted, errors = await _vet_new_roles(asker, spec, values, names)
    refusal: str | None = None
    status = 400
    if not errors:
        try:
            await apply_changes(
                spec,
                guild.id,
                session.user_id,
                values,
                action=f"{spec.feature}.settings",
                context=person_context(request, session),
                expected_version=version,
            )
        except StaleSettings as stale:
            refusal, status = stale.plain(), 409
        except PegasusError as refused:  # a rule between settings: the form's, not a field's
            refusal = _sentence(refused, names)
        else:
            for role in vetted:
                await remember_role_setup(asker, role)  # type: ignore[arg-type]
            raise web.HTTPSeeOther(
                f"{DASHBOARD_PREFIX}/guilds/{guild.id}/settings/{page}?saved={feature}"
                f"#{feature.replace('.', '-')}"
            )
    if status == 409:  # show what is stored now, with the sentence
        current = await read_settings(spec, guild.id)
        shown = _form(spec, current, settings_version(current), names)
    else:
        shown = _form(spec, values, version, names, errors)
    shown.error = refusal or _("Nothing was saved: correct the fields marked below.")
    return await _show(request, session, guild, page, specs, replaced=shown, status=status)
