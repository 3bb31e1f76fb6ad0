"""The dashboard's moderation page: warning automations, the blacklist, and where the modlog
channel and the muted role are set.

A third adapter over the services of `/automation` and `/blacklist`, as the REST API calls them
(`pegasus.web.api.moderation`): the same refusals, shown next to the form that was sent, and the
services audit each change, here with the person signed in and source `web`. A rule is added
switched off, as `/automation add` adds it, and switching one on first shows its simulation:
whom it would have hit over the warnings stored now. A role a rule gives passes the role rule for
the person (`pegasus.web.roles`); a report channel and a blacklist target are checked against
the bot's cache (`pegasus.web.bot_cache`), so the web process alone refuses them and says where
they can be set. A blacklisted role or channel is picked by name from the guild's (an id box when
Discord can't be asked), a member by name or id, the name matched as the members page searches;
a name that fits several members or none, and an id the server does not have, are refused next
to their field and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import discord
from aiohttp import web

from pegasus.errors import NotFoundError, PegasusError, ValidationError
from pegasus.i18n import N_, _, format_number, ngettext
from pegasus.services import moderation
from pegasus.services.audit import acting_from
from pegasus.services.dashboard import DashboardGuild, DashboardSession
from pegasus.services.durations import format_duration, parse_duration
from pegasus.services.ids import check_snowflake
from pegasus.services.moderation import (
    Automation,
    AutomationActionType,
    BlacklistEntityType,
    TriggerType,
)
from pegasus.ui.hierarchy import check_blacklist_target
from pegasus.web.bot_cache import (
    blacklist_cache,
    bot_owner_ids,
    cached_guild,
    check_notify_channel,
)
from pegasus.web.dashboard.feature_settings import foreign_id_sentence, guild_options
from pegasus.web.dashboard.forms import (
    Asking,
    Form,
    channel_choices,
    guild_names,
    id_choice,
    notice_redirect,
    notice_shown,
    number,
    person_names,
    refusal_sentence,
    role_choices,
    sent_back,
    text,
    web_state,
)
from pegasus.web.dashboard.pages import (
    DASHBOARD_PREFIX,
    confirmation_page,
    managed_guild,
    needs_session,
    person_context,
    render,
)
from pegasus.web.discord_names import GuildNames
from pegasus.web.roles import remember_role_setup, require_can_delegate

__all__ = ["add_routes", "describe_step"]

TEXT_CHANNELS = frozenset({0})  # a rule reports with embeds in a text channel
# The blacklist form's field for each kind of target, and the key of its error.
TARGET_FIELDS = {
    BlacklistEntityType.USER: "member",
    BlacklistEntityType.ROLE: "role_id",
    BlacklistEntityType.CHANNEL: "channel_id",
}
AMBIGUOUS_SHOWN = 5  # members named when a name fits several
MENTION = re.compile(r"<@!?(\d+)>")  # a member pasted as Discord writes a mention
ELSEWHERE = N_("use {command} in Discord, or the dashboard served by the bot itself")
TRIGGERS = {
    TriggerType.WARN_COUNT: N_("Number of active warnings"),
    TriggerType.LEVEL_TOTAL: N_("Total level of active warnings"),
}
ACTIONS = {
    AutomationActionType.TIMEOUT: N_("Time out (needs a duration)"),
    AutomationActionType.MUTE: N_("Mute with the muted role"),
    AutomationActionType.KICK: N_("Kick"),
    AutomationActionType.BAN: N_("Ban"),
    AutomationActionType.ROLE: N_("Give a role"),
    AutomationActionType.MESSAGE: N_("Send them a message"),
}
# An action in the description of a rule's steps ("ban for 7d").
STEP_WORDS = {
    AutomationActionType.TIMEOUT: N_("timeout"),
    AutomationActionType.MUTE: N_("mute"),
    AutomationActionType.KICK: N_("kick"),
    AutomationActionType.BAN: N_("ban"),
}


def add_routes(app: web.Application) -> None:
    page = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/moderation"
    rule = page + "/automations/{automation_id}"
    app.router.add_get(page, moderation_page)
    app.router.add_post(page + "/automations", add_automation)
    app.router.add_get(rule + "/switch-on", confirm_switch_on)
    app.router.add_post(rule + "/switch", switch_automation)
    app.router.add_get(rule + "/remove", confirm_remove)
    app.router.add_post(rule + "/remove", remove_automation)
    app.router.add_post(page + "/blacklist", add_to_blacklist)
    app.router.add_post(page + "/blacklist/{kind}/{entity_id}/remove", lift_blacklist_entry)


def _page_url(guild_id: int) -> str:
    return f"{DASHBOARD_PREFIX}/guilds/{guild_id}/moderation"


def describe_step(step: Mapping[str, Any], role_name: str | None = None) -> str:
    """One action of a rule in words: `ban for 7d`, `give @Muted`, `send a message`."""
    kind = AutomationActionType(step["type"])
    seconds = step.get("duration_seconds")
    if kind is AutomationActionType.ROLE:
        return _("give @{role}").format(role=role_name or step.get("role_id"))
    if kind is AutomationActionType.MESSAGE:
        return _("send them a message")
    action = _(STEP_WORDS[kind]) if kind in STEP_WORDS else kind.value
    if not seconds:
        return action
    # Translators: a rule's step, e.g. "ban for 7d".
    return _("{action} for {duration}").format(action=action, duration=format_duration(seconds))


# what the page shows -------------------------------------------------------------------------
async def _show(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    sent: Mapping[str, str] | None = None,
) -> web.Response:
    names = await guild_names(request, guild.id)
    blacklist = await moderation.list_entries(guild.id, now=web_state(request).clock())
    users = {e.entity_id for e in blacklist if e.entity_type is BlacklistEntityType.USER}

    def role_name(role_id: int | None) -> str | None:
        return names.role_name(role_id) if names and role_id else None

    def channel_name(channel_id: int | None) -> str | None:
        return names.channel_name(channel_id) if names and channel_id else None

    return render(
        "moderation_page.html",
        status=status,
        session=session,
        guild=guild,
        automations=await moderation.list_automations(guild.id),
        describe_trigger=moderation.describe_trigger,
        describe_step=lambda step: describe_step(step, role_name(step.get("role_id"))),
        describe_steps=lambda rule: ", ".join(
            describe_step(step, role_name(step.get("role_id"))) for step in rule.actions
        ),
        blacklist=blacklist,
        people=await person_names(web_state(request).names, users),
        config=await moderation.get_settings(guild.id),
        triggers=[(kind.value, _(label)) for kind, label in TRIGGERS.items()],
        actions=[(kind.value, _(label)) for kind, label in ACTIONS.items()],
        target_options=_target_options(names, sent or {}),
        roles=role_choices(names, guild.id),
        text_channels=channel_choices(names, TEXT_CHANNELS),
        role_name=role_name,
        channel_name=channel_name,
        errors=errors or {},
        sent=sent or {},
        notice=notice_shown(request, session.csrf_token),
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
    )


def _target_options(
    names: GuildNames | None, sent: Mapping[str, str]
) -> dict[str, list[tuple[str, str, bool]]] | None:
    """The blacklist form's roles and channels by name, what a refused form chose still chosen;
    None when Discord can't be asked (the form then takes their ids)."""
    if names is None:
        return None
    kept = sent if sent.get("form") == "blacklist" else {}

    def chosen(field: str) -> set[Any]:
        raw = kept.get(field, "")
        return {int(raw)} if raw.isdigit() else set()

    return {
        "role_id": guild_options(names, roles=True, chosen=chosen("role_id")),
        "channel_id": guild_options(names, roles=False, chosen=chosen("channel_id")),
    }


@needs_session
async def moderation_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await _show(request, session, guild)


def _back(guild_id: int, session: DashboardSession, notice: str, url: str = "") -> web.HTTPFound:
    return notice_redirect(url or _page_url(guild_id), session.csrf_token, notice)


async def _refused(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    form_name: str,
    refusal: PegasusError,
    form: Form | None,
    field: str | None = None,
) -> web.Response:
    """The page again with the refusal next to the form, or next to `field` of it."""
    sent = sent_back(form_name, form)
    sentence = refusal_sentence(refusal, await guild_names(request, guild.id))
    key = f"{form_name}-{field}" if field else form_name
    return await _show(request, session, guild, status=400, errors={key: sentence}, sent=sent)


async def _rule(request: web.Request, guild_id: int) -> Automation:
    return await moderation.get_automation(guild_id, request.match_info["automation_id"])


# automations -----------------------------------------------------------------------------------
def _choice(form: Form, name: str, allowed: Mapping[Any, str], what: str) -> str:
    value = text(form, name) or ""
    if value not in {str(key) for key in allowed}:
        # Translators: {what} is e.g. "the action".
        raise ValidationError(_("Choose {what} from the list.").format(what=what))
    return value


def _duration(form: Form) -> int | None:
    written = text(form, "duration")
    return parse_duration(written) if written else None


@needs_session
async def add_automation(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """As `/automation add`: one action, off until switched on after its simulation."""
    session, guild = await managed_guild(request, session)
    form = await request.post()
    names = await guild_names(request, guild.id)
    asking = Asking(web_state(request), guild.id, session.user_id)
    try:
        trigger = _choice(form, "trigger", TRIGGERS, _("what to count"))
        kind = _choice(form, "action", ACTIONS, _("the action"))
        role = None
        role_id = id_choice(form, "role_id", role_choices(names, guild.id), _("a role"))
        if kind == AutomationActionType.ROLE and role_id is not None:
            role = await require_can_delegate(asking, role_id)  # checked first, as the command
        notify_id = id_choice(
            form, "notify_channel_id", channel_choices(names, TEXT_CHANNELS), _("a text channel")
        )
        check_notify_channel(asking, notify_id, _(ELSEWHERE).format(command="/automation add"))
        step = moderation.build_action(
            kind,
            duration_seconds=_duration(form),
            role_id=None if role is None else role.id,
            message=text(form, "message"),
        )
        value = number(form, "value", _("The threshold"))
        if value is None:
            raise ValidationError(_("Give the threshold that sets the rule off."))
        with acting_from(person_context(request, session)):
            created = await moderation.add_automation(
                guild.id,
                name=str(form.get("name", "")),
                trigger_type=trigger,
                trigger_value=value,
                window_days=number(form, "window_days", _("The window")),
                actions=[step],
                notify_channel_id=notify_id,
                actor_id=session.user_id,
                now=web_state(request).clock(),
            )
        if role is not None:
            await remember_role_setup(asking, role)
    except PegasusError as refusal:
        return await _refused(request, session, guild, "add", refusal, form)
    switch_on = f"{_page_url(guild.id)}/automations/{created.automation_id}/switch-on"
    raise _back(
        guild.id,
        session,
        _("{rule} was added, switched off.").format(rule=created.name),
        switch_on,
    )


@needs_session
async def confirm_switch_on(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """The rule's simulation, and the button that switches it on."""
    session, guild = await managed_guild(request, session)
    try:
        rule = await _rule(request, guild.id)
        simulation = await moderation.simulate(guild.id, rule.automation_id)
    except PegasusError:
        raise web.HTTPFound(_page_url(guild.id)) from None
    names = await guild_names(request, guild.id)
    return render(
        "moderation_switch_on.html",
        session=session,
        guild=guild,
        rule=rule,
        trigger=moderation.describe_trigger(rule),
        steps=[
            describe_step(step, names.role_name(step.get("role_id", 0)) if names else None)
            for step in rule.actions
        ],
        simulation=simulation,
        notice=notice_shown(request, session.csrf_token),
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
    )


@needs_session
async def switch_automation(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """Switch a rule on or off, as the form says; a rule already so is left as it is (a second
    click, or two people at once, never flips it back)."""
    session, guild = await managed_guild(request, session)
    form = await request.post()
    wanted = form.get("enabled") == "on"
    try:
        rule = await _rule(request, guild.id)
        if rule.enabled != wanted:
            with acting_from(person_context(request, session)):
                rule = await moderation.toggle_automation(
                    guild.id,
                    rule.automation_id,
                    actor_id=session.user_id,
                    now=web_state(request).clock(),
                )
    except PegasusError as refusal:
        return await _refused(request, session, guild, "automations", refusal, None)
    notice = _("{rule} is on.") if rule.enabled else _("{rule} is off.")
    raise _back(guild.id, session, notice.format(rule=rule.name))


@needs_session
async def confirm_remove(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await confirmation_page(
        "moderation_remove.html",
        session=session,
        guild=guild,
        page_url=_page_url(guild.id),
        find=lambda: _rule(request, guild.id),
        row_name="rule",
    )


@needs_session
async def remove_automation(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    try:
        rule = await _rule(request, guild.id)
        with acting_from(person_context(request, session)):
            await moderation.remove_automation(
                guild.id,
                rule.automation_id,
                actor_id=session.user_id,
                now=web_state(request).clock(),
            )
    except PegasusError as refusal:
        return await _refused(request, session, guild, "automations", refusal, None)
    raise _back(guild.id, session, _("{rule} was deleted.").format(rule=rule.name))


# the blacklist ---------------------------------------------------------------------------------
def _kind(raw: str | None) -> BlacklistEntityType:
    if raw not in {str(kind) for kind in moderation.GUILD_KINDS}:
        raise ValidationError(_("Choose what to blacklist from the list: a user, role or channel."))
    return BlacklistEntityType(raw)


async def _shown_target(
    request: web.Request, guild_id: int, kind: BlacklistEntityType, entity_id: int
) -> str:
    """`alice`, `@Moderator`, `#general`: a blacklisted target as people know it."""
    if kind is BlacklistEntityType.USER:
        return (await person_names(web_state(request).names, {entity_id}))[entity_id]
    names = await guild_names(request, guild_id)
    if kind is BlacklistEntityType.ROLE and names and names.role_name(entity_id):
        return f"@{names.role_name(entity_id)}"
    if kind is BlacklistEntityType.CHANNEL and names and names.channel_name(entity_id):
        return f"#{names.channel_name(entity_id)}"
    return f"{kind} {entity_id}"


def _target_field(form: Form) -> tuple[BlacklistEntityType, str]:
    """The kind of target the form names, by the one of its fields that is filled in."""
    filled = [(kind, name) for kind, name in TARGET_FIELDS.items() if text(form, name)]
    if not filled:
        raise ValidationError(_("Give the member, the role or the channel to blacklist."))
    if len(filled) > 1:
        raise ValidationError(_("Blacklist one member, role or channel at a time: fill in one."))
    return filled[0]


def _member_id(guild: discord.Guild, typed: str) -> int:
    """A member by id, or by a name as the members page searches (in the nickname, display name
    or username); a name that is exactly someone's wins over names that only contain it."""
    typed = typed.strip()
    mention = MENTION.fullmatch(typed)
    typed = mention.group(1) if mention else typed.removeprefix("@")
    if typed.isdigit():
        check_snowflake(int(typed), what=N_("a member id"))
        if guild.get_member(int(typed)) is None:
            raise NotFoundError(_("This server has no member with the id {id}.").format(id=typed))
        return int(typed)
    wanted = typed.casefold()

    def names(member: discord.Member) -> list[str]:
        return [n.casefold() for n in (member.nick, member.global_name, member.name) if n]

    fitting = [m for m in guild.members if any(wanted in name for name in names(m))]
    found = [m for m in fitting if wanted in names(m)] or fitting
    if not found:
        raise NotFoundError(
            _(
                "No member of this server is called {name}: type their name as Discord shows "
                "it, or their id."
            ).format(name=typed)
        )
    if len(found) > 1:
        shown = sorted(f"{m.display_name} ({m.name})" for m in found)[:AMBIGUOUS_SHOWN]
        more = ", …" if len(found) > AMBIGUOUS_SHOWN else ""
        raise ValidationError(
            ngettext(
                "{count} member fits {name}: {members}. Type more of the name, or the id.",
                "{count} members fit {name}: {members}. Type more of the name, or the id.",
                len(found),
            ).format(count=format_number(len(found)), name=typed, members=", ".join(shown) + more)
        )
    return found[0].id


def _listed_id(form: Form, field: str, names: GuildNames | None, *, roles: bool) -> int:
    """A role or channel chosen from the form's list: one of the server's (when Discord can be
    asked; the bot's cache checks it after, as the command does)."""
    entity_id = number(form, field, _("The role id") if roles else _("The channel id"))
    if entity_id is None:
        raise ValidationError(
            _("Choose the role to blacklist.") if roles else _("Choose the channel to blacklist.")
        )
    check_snowflake(entity_id, what=N_("a role id") if roles else N_("a channel id"))
    if names is not None:
        options = guild_options(names, roles=roles, chosen=set())
        listed = {value for value, _text, _chosen in options}
        if str(entity_id) not in listed:
            raise ValidationError(foreign_id_sentence(entity_id, roles=roles))
    return entity_id


async def _target_id(
    request: web.Request,
    guild: discord.Guild,
    kind: BlacklistEntityType,
    form: Form,
) -> int:
    if kind is BlacklistEntityType.USER:
        return _member_id(guild, text(form, "member") or "")
    names = await guild_names(request, guild.id)
    roles = kind is BlacklistEntityType.ROLE
    return _listed_id(form, TARGET_FIELDS[kind], names, roles=roles)


@needs_session
async def add_to_blacklist(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """As `/blacklist add` in this server: never yourself, the bot, its owners or the server's
    admins; the member, role or channel must be the server's (checked against the bot's cache).
    A refusal about the target is shown next to its field."""
    session, guild = await managed_guild(request, session)
    form = await request.post()
    state = web_state(request)
    asking = Asking(state, guild.id, session.user_id)
    try:
        kind, field = _target_field(form)
        seconds = _duration(form)
        where = _(ELSEWHERE).format(command="/blacklist add")
        discord_guild = cached_guild(asking, _("the server's members, roles and channels"), where)
    except PegasusError as refusal:
        return await _refused(request, session, guild, "blacklist", refusal, form)
    try:
        entity_id = await _target_id(request, discord_guild, kind, form)
        check_blacklist_target(
            discord_guild,
            session.user_id,
            kind,
            entity_id,
            wide=False,
            owner_ids=bot_owner_ids(state),
        )
    except PegasusError as refusal:
        return await _refused(request, session, guild, "blacklist", refusal, form, field)
    try:
        with acting_from(person_context(request, session)):
            await moderation.add_entry(
                kind,
                entity_id,
                guild_id=guild.id,
                actor_id=session.user_id,
                reason=str(form.get("reason", "")),
                now=state.clock(),
                duration_seconds=seconds,
                cache=blacklist_cache(state),
            )
    except PegasusError as refusal:
        return await _refused(request, session, guild, "blacklist", refusal, form)
    shown = await _shown_target(request, guild.id, kind, entity_id)
    raise _back(
        guild.id, session, _("{target} is blacklisted in this server.").format(target=shown)
    )


@needs_session
async def lift_blacklist_entry(
    request: web.Request, session: DashboardSession
) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    state = web_state(request)
    try:
        kind = _kind(request.match_info["kind"])
        raw = request.match_info["entity_id"]
        if not raw.isdigit() or len(raw) > 20:
            raise ValidationError(_("There is no such entry in this server's blacklist."))
        with acting_from(person_context(request, session)):
            entry = await moderation.remove_entry(
                kind,
                int(raw),
                guild_id=guild.id,
                actor_id=session.user_id,
                now=state.clock(),
                cache=blacklist_cache(state),
            )
    except PegasusError as refusal:
        return await _refused(request, session, guild, "blacklist-list", refusal, None)
    shown = await _shown_target(request, guild.id, entry.entity_type, entry.entity_id)
    raise _back(
        guild.id,
        session,
        _("{target} is no longer blacklisted in this server.").format(target=shown),
    )
