"""The dashboard's reward roles and XP multipliers of a guild.

The services of `/levels reward-add`, `/levels reward-remove` and `/levels multiplier`, as the
REST API calls them (`pegasus.web.api.levels`): the same refusals, shown next to the form that
was sent; the services audit each change, here with the person signed in and source `web`. A
reward role passes the role rule of the command for that person (`pegasus.web.roles`).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from models.levels import MultiplierTarget, RewardMode, XpMultiplier
from pegasus.errors import PegasusError, ValidationError
from pegasus.i18n import _, format_number
from pegasus.services import levels as service
from pegasus.services.audit import acting_from
from pegasus.services.dashboard import DashboardGuild, DashboardSession
from pegasus.web.dashboard.forms import (
    Asking,
    Form,
    channel_choices,
    guild_names,
    id_choice,
    notice_redirect,
    notice_shown,
    number,
    refusal_sentence,
    role_choices,
    sent_back,
    text,
    web_state,
)
from pegasus.web.dashboard.pages import (
    DASHBOARD_PREFIX,
    managed_guild,
    needs_session,
    person_context,
    render,
)
from pegasus.web.discord_names import TEXT_LIKE
from pegasus.web.roles import remember_role_setup, require_can_delegate

__all__ = ["add_routes"]

MULTIPLIER_CHANNELS = TEXT_LIKE | frozenset({2, 13})  # and voice and stage channels


def add_routes(app: web.Application) -> None:
    page = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/levels/rewards"
    app.router.add_get(page, rewards_page)
    app.router.add_post(page, add_reward)
    app.router.add_post(page + "/{level}/{role_id}/remove", remove_reward)
    app.router.add_post(page + "/multipliers", set_multiplier)
    app.router.add_post(page + "/multipliers/{target}/{target_id}/remove", remove_multiplier)


def _page_url(guild_id: int) -> str:
    return f"{DASHBOARD_PREFIX}/guilds/{guild_id}/levels/rewards"


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
    multipliers = await XpMultiplier.filter(guild_id=guild.id).order_by("target_type", "target_id")
    return render(
        "level_rewards_page.html",
        status=status,
        session=session,
        guild=guild,
        rewards=await service.list_rewards(guild.id),
        multipliers=multipliers,
        roles=role_choices(names, guild.id),
        channels=channel_choices(names, MULTIPLIER_CHANNELS),
        role_name=lambda role_id: names.role_name(role_id) if names else None,
        channel_name=lambda channel_id: names.channel_name(channel_id) if names else None,
        modes=[mode.value for mode in RewardMode],
        max_level=service.MAX_LEVEL,
        max_percent=service.MAX_MULTIPLIER_PERCENT,
        errors=errors or {},
        sent=sent or {},
        notice=notice_shown(request, session.csrf_token),
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
    )


@needs_session
async def rewards_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await _show(request, session, guild)


def _back(guild_id: int, session: DashboardSession, notice: str) -> web.HTTPFound:
    return notice_redirect(_page_url(guild_id), session.csrf_token, notice)


async def _refused(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    form_name: str,
    refusal: PegasusError,
    form: Form | None,
) -> web.Response:
    sent = sent_back(form_name, form)
    sentence = refusal_sentence(refusal, await guild_names(request, guild.id))
    return await _show(request, session, guild, status=400, errors={form_name: sentence}, sent=sent)


def _path_number(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 19:
        raise ValidationError(_("There is no such entry."))
    return int(raw)


@needs_session
async def add_reward(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    names = await guild_names(request, guild.id)
    try:
        level = number(form, "level", _("The level"))
        role_id = id_choice(form, "role_id", role_choices(names, guild.id), _("a role"))
        if level is None or role_id is None:
            raise ValidationError(_("Give the level and choose the role."))
        mode_text = text(form, "mode")
        if mode_text is not None and mode_text not in {mode.value for mode in RewardMode}:
            raise ValidationError(_("Choose a reward mode from the list."))
        asking = Asking(web_state(request), guild.id, session.user_id)
        role = await require_can_delegate(asking, role_id)
        with acting_from(person_context(request, session)):
            reward = await service.add_reward(
                guild.id,
                level,
                role.id,
                message=text(form, "message"),
                mode=RewardMode(mode_text) if mode_text else None,
                actor_id=session.user_id,
            )
        await remember_role_setup(asking, role)
    except PegasusError as refusal:
        return await _refused(request, session, guild, "reward", refusal, form)
    name = names.role_name(reward.role_id) if names else None
    raise _back(
        guild.id,
        session,
        _("@{role} is given at level {level}.").format(
            role=name or reward.role_id, level=format_number(reward.level)
        ),
    )


@needs_session
async def remove_reward(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    try:
        level, role_id = _path_number(request, "level"), _path_number(request, "role_id")
        with acting_from(person_context(request, session)):
            await service.remove_reward(guild.id, level, role_id, actor_id=session.user_id)
    except PegasusError as refusal:
        return await _refused(request, session, guild, "rewards", refusal, None)
    raise _back(
        guild.id,
        session,
        _("The reward of level {level} was removed.").format(level=format_number(level)),
    )


def _target(value: str | None) -> MultiplierTarget:
    if value not in {target.value for target in MultiplierTarget}:
        raise ValidationError(_("Choose whether the multiplier is a role's or a channel's."))
    return MultiplierTarget(value)


@needs_session
async def set_multiplier(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    names = await guild_names(request, guild.id)
    try:
        target = _target(text(form, "target"))
        if target is MultiplierTarget.ROLE:
            target_id = id_choice(form, "role_id", role_choices(names, guild.id), _("a role"))
        else:
            choices = channel_choices(names, MULTIPLIER_CHANNELS)
            target_id = id_choice(form, "channel_id", choices, _("a channel"))
        percent = number(form, "percent", _("The multiplier"))
        if target_id is None or percent is None:
            raise ValidationError(
                _("Choose the role and give the multiplier in %.")
                if target is MultiplierTarget.ROLE
                else _("Choose the channel and give the multiplier in %.")
            )
        with acting_from(person_context(request, session)):
            await service.set_multiplier(
                guild.id, target, target_id, percent, actor_id=session.user_id
            )
    except PegasusError as refusal:
        return await _refused(request, session, guild, "multiplier", refusal, form)
    notice = (
        _("The role's XP multiplier is {percent}%.")
        if target is MultiplierTarget.ROLE
        else _("The channel's XP multiplier is {percent}%.")
    )
    raise _back(guild.id, session, notice.format(percent=percent))


@needs_session
async def remove_multiplier(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    try:
        target = _target(request.match_info["target"])
        target_id = _path_number(request, "target_id")
        with acting_from(person_context(request, session)):
            await service.remove_multiplier(guild.id, target, target_id, actor_id=session.user_id)
    except PegasusError as refusal:
        return await _refused(request, session, guild, "multipliers", refusal, None)
    raise _back(
        guild.id,
        session,
        _("The role's XP multiplier was removed.")
        if target is MultiplierTarget.ROLE
        else _("The channel's XP multiplier was removed."),
    )
