"""The dashboard's API keys of a guild: the list (never a secret), creating one (its secret shown
once, on the answer to the form), and revoking one after a confirmation.

The services of `/apikey`: the same rules and refusals (a guild's key is created by its owner or
an Administrator; its owner, a guild's admin or a bot owner may revoke it), audited by the
services with the person signed in and source `web`. Whether the person is an Administrator is
what Discord said of them with their login, asked again as every guild page does.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from pegasus.errors import NotFoundError, PegasusError, ValidationError
from pegasus.i18n import _
from pegasus.services import security
from pegasus.services.audit import acting_from
from pegasus.services.dashboard import DashboardGuild, DashboardSession
from pegasus.services.durations import parse_duration
from pegasus.services.role_delegations import ADMINISTRATOR
from pegasus.services.security import API_SCOPES, ApiKeyRecord, CreatedApiKey
from pegasus.web.bot_cache import bot_owner_ids
from pegasus.web.dashboard.forms import (
    Form,
    notice_redirect,
    notice_shown,
    person_names,
    refusal_sentence,
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

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    page = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/api-keys"
    app.router.add_get(page, keys_page)
    app.router.add_post(page, create_key)
    app.router.add_get(page + "/{key_id}/revoke", confirm_revoke)
    app.router.add_post(page + "/{key_id}/revoke", revoke_key)


def _page_url(guild_id: int) -> str:
    return f"{DASHBOARD_PREFIX}/guilds/{guild_id}/api-keys"


def _is_admin(guild: DashboardGuild) -> bool:
    """Administrator in the guild, as `/apikey` asks it (the owner has every permission)."""
    return guild.owner or bool(guild.permissions & ADMINISTRATOR)


def _is_bot_owner(request: web.Request, session: DashboardSession) -> bool:
    return session.user_id in bot_owner_ids(web_state(request))


async def _guild_keys(
    request: web.Request, session: DashboardSession, guild: DashboardGuild
) -> list[ApiKeyRecord]:
    """The keys of this guild the person may see: all of them for its admins, else their own."""
    visible = await security.list_api_keys(
        viewer_id=session.user_id,
        guild_id=guild.id,
        is_bot_owner=_is_bot_owner(request, session),
        is_guild_admin=_is_admin(guild),
    )
    return [key for key in visible if key.guild_id == guild.id]


async def _show(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    refused: Form | None = None,
    created: CreatedApiKey | None = None,
) -> web.Response:
    """The page; `refused` is a create form sent back, shown again as it was filled in."""
    keys = await _guild_keys(request, session, guild)
    owners = await person_names(web_state(request).names, {key.owner_id for key in keys})
    return render(
        "api_keys_page.html",
        status=status,
        session=session,
        guild=guild,
        keys=keys,
        owners=owners,
        scopes=API_SCOPES,
        chosen_scopes=set() if refused is None else set(refused.getall("scopes", [])),
        created=created,
        is_admin=_is_admin(guild),
        errors=errors or {},
        sent=sent_back("create", refused) if refused is not None else {},
        notice=notice_shown(request, session.csrf_token),
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
    )


@needs_session
async def keys_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await _show(request, session, guild)


def _lifetime(form: Form) -> int | None:
    written = text(form, "expires_in")
    if written is None:
        return None
    return parse_duration(
        written, minimum=security.MIN_KEY_LIFETIME, maximum=security.MAX_KEY_LIFETIME
    )


@needs_session
async def create_key(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """As `/apikey create` in this server. The answer is the page itself, with the secret: it is
    never in a URL, and reloading does not show it again."""
    session, guild = await managed_guild(request, session)
    form = await request.post()
    try:
        chosen = [str(scope) for scope in form.getall("scopes", [])]
        if not chosen:
            raise ValidationError(_("Choose at least one scope."))
        with acting_from(person_context(request, session)):
            created = await security.create_api_key(
                owner_id=session.user_id,
                name=str(form.get("name", "")),
                scopes=list(dict.fromkeys(chosen)),
                guild_id=guild.id,
                now=web_state(request).clock(),
                is_bot_owner=_is_bot_owner(request, session),
                is_guild_admin=_is_admin(guild),
                expires_in_seconds=_lifetime(form),
            )
    except PegasusError as refusal:
        sentence = refusal_sentence(refusal, None)
        return await _show(
            request, session, guild, status=400, errors={"create": sentence}, refused=form
        )
    return await _show(request, session, guild, created=created)


async def _key(
    request: web.Request, session: DashboardSession, guild: DashboardGuild
) -> ApiKeyRecord:
    wanted = request.match_info["key_id"]
    for key in await _guild_keys(request, session, guild):
        if str(key.id) == wanted:
            return key
    raise NotFoundError(_("There is no such API key in this server."))


@needs_session
async def confirm_revoke(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await confirmation_page(
        "api_keys_revoke.html",
        session=session,
        guild=guild,
        page_url=_page_url(guild.id),
        find=lambda: _key(request, session, guild),
        row_name="key",
    )


@needs_session
async def revoke_key(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """As `/apikey revoke`: programs using the key are refused from their next request."""
    session, guild = await managed_guild(request, session)
    try:
        key = await _key(request, session, guild)
        with acting_from(person_context(request, session)):
            revoked = await security.revoke_api_key(
                str(key.id),
                actor_id=session.user_id,
                guild_id=guild.id,
                is_bot_owner=_is_bot_owner(request, session),
                is_guild_admin=_is_admin(guild),
            )
    except PegasusError as refusal:
        sentence = refusal_sentence(refusal, None)
        return await _show(request, session, guild, status=400, errors={"keys": sentence})
    notice = _("The key {name} ({prefix}…) is revoked.").format(
        name=revoked.name, prefix=revoked.key_prefix
    )
    raise notice_redirect(_page_url(guild.id), session.csrf_token, notice)
