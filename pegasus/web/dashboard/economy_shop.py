"""The dashboard's shop of a guild: its items, adding one, putting one on or off sale, and
removing one after a confirmation.

The services of `/shop-admin`, as the REST API calls them (`pegasus.web.api.economy`): the same
refusals, shown next to the form that was sent; the services audit each change, here with the
person signed in and source `web`. A role item's role passes the role rule of `/shop-admin add`
for that person (`pegasus.web.roles`), checked before anything else about the item.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from models.economy import EconomyShopItem, ShopItemType
from pegasus.errors import PegasusError, ValidationError
from pegasus.i18n import _
from pegasus.services import economy
from pegasus.services.audit import acting_from
from pegasus.services.dashboard import DashboardGuild, DashboardSession
from pegasus.services.economy import ShopItem
from pegasus.web.dashboard.forms import (
    Asking,
    Form,
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
    confirmation_page,
    managed_guild,
    needs_session,
    person_context,
    render,
)
from pegasus.web.roles import remember_role_setup, require_can_delegate

__all__ = ["add_routes"]

BOOST_KINDS = ("xp", "rob_protection")


def add_routes(app: web.Application) -> None:
    page = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/economy/shop"
    item = page + "/items/{item_id}"
    app.router.add_get(page, shop_page)
    app.router.add_post(page + "/items", add_item)
    app.router.add_post(item + "/sale", set_on_sale)
    app.router.add_get(item + "/remove", confirm_remove)
    app.router.add_post(item + "/remove", remove_item)


def _page_url(guild_id: int) -> str:
    return f"{DASHBOARD_PREFIX}/guilds/{guild_id}/economy/shop"


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
    rows = await EconomyShopItem.filter(guild_id=guild.id).order_by("price", "id")
    return render(
        "economy_shop_page.html",
        status=status,
        session=session,
        guild=guild,
        items=[ShopItem.from_row(row) for row in rows],
        roles=role_choices(names, guild.id),
        role_name=lambda role_id: names.role_name(role_id) if names else None,
        types=[kind.value for kind in ShopItemType],
        boost_kinds=BOOST_KINDS,
        errors=errors or {},
        sent=sent or {},
        notice=notice_shown(request, session.csrf_token),
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
    )


@needs_session
async def shop_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
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


def _minutes(form: Form, name: str, what: str) -> int | None:
    minutes = number(form, name, what)
    return None if minutes is None else minutes * 60


def _required_roles(form: Form, roles: list[tuple[int, str]]) -> list[int]:
    allowed = {role_id for role_id, _name in roles}
    chosen = [str(raw) for raw in form.getall("required_role_ids", [])]
    if any(not raw.isdigit() or int(raw) not in allowed for raw in chosen):
        raise ValidationError(_("Choose roles of this server from the list."))
    return [int(raw) for raw in dict.fromkeys(chosen)]


async def _item(request: web.Request, guild_id: int) -> ShopItem:
    raw = request.match_info["item_id"]
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise ValidationError(_("There is no such item in the shop."))
    return await economy.get_item(guild_id, int(raw))


@needs_session
async def add_item(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    names = await guild_names(request, guild.id)
    roles = role_choices(names, guild.id)
    try:
        kind = text(form, "type") or ShopItemType.ITEM.value
        if kind not in {member.value for member in ShopItemType}:
            raise ValidationError(_("Choose the item's type from the list."))
        item_type = ShopItemType(kind)
        asking = Asking(web_state(request), guild.id, session.user_id)
        role = None
        if item_type is ShopItemType.ROLE:  # as /shop-admin add: the role is checked first
            role_id = id_choice(form, "role_id", roles, _("a role"))
            if role_id is None:
                raise ValidationError(_("A role item needs the role it grants."))
            role = await require_can_delegate(asking, role_id)
        required = _required_roles(form, roles)
        effect = economy.build_effect(
            item_type,
            role_id=None if role is None else role.id,
            boost_kind=text(form, "boost_kind"),
            multiplier=number(form, "multiplier", _("The XP boost")),
            duration_seconds=_minutes(form, "duration_minutes", _("The duration")),
            message=text(form, "message"),
        )
        price = number(form, "price", _("The price"))
        if price is None:
            raise ValidationError(_("Give the item's price."))
        with acting_from(person_context(request, session)):
            item = await economy.add_item(
                guild.id,
                actor_id=session.user_id,
                name=str(form.get("name", "")),
                price=price,
                item_type=item_type,
                description=text(form, "description") or "",
                effect=effect,
                stock=number(form, "stock", _("The stock")),
                max_per_user=number(form, "max_per_user", _("The limit per member")),
                cooldown_seconds=_minutes(form, "cooldown_minutes", _("The cooldown")) or 0,
                required_role_ids=required,
                min_level=number(form, "min_level", _("The level")),
            )
        if role is not None:
            await remember_role_setup(asking, role)
    except PegasusError as refusal:
        return await _refused(request, session, guild, "add", refusal, form)
    raise _back(guild.id, session, _("{item} is in the shop.").format(item=item.name))


@needs_session
async def set_on_sale(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    try:
        item = await _item(request, guild.id)
        enabled = form.get("enabled") == "on"
        with acting_from(person_context(request, session)):
            item = await economy.edit_item(
                guild.id, item.name, actor_id=session.user_id, enabled=enabled
            )
    except PegasusError as refusal:
        return await _refused(request, session, guild, "items", refusal, None)
    if item.enabled:
        notice = _("{item} is for sale.").format(item=item.name)
    else:
        notice = _("{item} is no longer for sale.").format(item=item.name)
    raise _back(guild.id, session, notice)


@needs_session
async def confirm_remove(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await confirmation_page(
        "economy_shop_remove.html",
        session=session,
        guild=guild,
        page_url=_page_url(guild.id),
        find=lambda: _item(request, guild.id),
        row_name="item",
    )


@needs_session
async def remove_item(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    try:
        item = await _item(request, guild.id)
        with acting_from(person_context(request, session)):
            name = await economy.remove_item(guild.id, item.name, actor_id=session.user_id)
    except PegasusError as refusal:
        return await _refused(request, session, guild, "items", refusal, None)
    raise _back(guild.id, session, _("{item} was removed from the shop.").format(item=name))
