"""What the dashboard's pages of a guild's collections share: what Discord says the guild has
(channels and roles to choose from), reading form fields, who sets roles up, and the sentence of
a refusal with roles and channels by name."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from hashlib import sha256
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from multidict import MultiDictProxy

from pegasus.errors import PegasusError, Ref, ValidationError
from pegasus.i18n import _
from pegasus.web.discord_names import GuildNames, NameSource

if TYPE_CHECKING:
    from pegasus.web.app import WebState

__all__ = [
    "Asking",
    "Form",
    "channel_choices",
    "guild_names",
    "id_choice",
    "notice_redirect",
    "notice_shown",
    "number",
    "person_names",
    "refusal_sentence",
    "role_choices",
    "sent_back",
    "text",
    "web_state",
]

Form = MultiDictProxy[Any]


@dataclass(frozen=True)
class Asking:
    """The person signed in, setting roles up in a guild (what `pegasus.web.roles` asks)."""

    web: WebState
    guild_id: int
    actor_id: int


def web_state(request: web.Request) -> WebState:
    from pegasus.web.app import STATE

    return request.app[STATE]


async def guild_names(request: web.Request, guild_id: int) -> GuildNames | None:
    names = web_state(request).names
    try:
        return await names.guild_names(guild_id) if names is not None else None
    except Exception:  # Discord unreachable: the page still shows what is stored
        return None


async def person_names(names: NameSource | None, user_ids: set[int]) -> dict[int, str]:
    """People by their name on Discord, or `user <id>` where it can't be read."""
    found: dict[int, str] = {}
    for user_id in user_ids:
        name = None
        if names is not None:
            try:
                name = await names.user_name(user_id)
            except (aiohttp.ClientError, TimeoutError):
                name = None
        found[user_id] = name or _("user {id}").format(id=user_id)
    return found


def role_choices(names: GuildNames | None, guild_id: int) -> list[tuple[int, str]]:
    """The roles to choose from (not @everyone, whose id is the guild's)."""
    if names is None:
        return []
    found = [(role_id, name) for role_id, name in names.roles.items() if role_id != guild_id]
    return sorted(found, key=lambda pair: pair[1].lower())


def channel_choices(names: GuildNames | None, types: frozenset[int]) -> list[tuple[int, str]]:
    if names is None:
        return []
    found = [(cid, name) for cid, (name, kind) in names.channels.items() if kind in types]
    return sorted(found, key=lambda pair: pair[1].lower())


def text(form: Form, name: str) -> str | None:
    value = str(form.get(name, "")).strip()
    return value or None


def number(form: Form, name: str, what: str) -> int | None:
    value = text(form, name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 20:
        # Translators: {what} names the field, e.g. "The level".
        raise ValidationError(_("{what} must be a whole number.").format(what=what))
    return int(value)


def id_choice(form: Form, name: str, allowed: list[tuple[int, str]], what: str) -> int | None:
    value = number(form, name, what)
    if value is not None and value not in {cid for cid, _name in allowed}:
        # Translators: {what} is e.g. "a role", "a channel".
        raise ValidationError(_("Choose {what} of this server from the list.").format(what=what))
    return value


def sent_back(form_name: str, form: Form | None) -> dict[str, str]:
    """What a refused form sent, to show it again as typed (never its CSRF token)."""
    sent = {"form": form_name}
    if form is not None:
        sent |= {str(key): str(value) for key, value in form.items() if key != "csrf_token"}
    return sent


def refusal_sentence(refusal: PegasusError, names: GuildNames | None) -> str:
    """The refusal in plain words, roles and channels by their names where they are known."""

    def show(ref: Ref) -> str:
        if names is not None and ref.kind == "role" and names.role_name(ref.value):
            return f"@{names.role_name(ref.value)}"
        if names is not None and ref.kind == "channel" and names.channel_name(ref.value):
            return f"#{names.channel_name(ref.value)}"
        return ref.plain()

    if not refusal.refs:
        sentence = refusal.plain()
    else:
        sentence = refusal.template.format_map(
            {name: show(ref) for name, ref in refusal.refs.items()}
        )
    return sentence.replace("**", "")  # Discord's bold, which a page would show as is


# What a change says once done travels in the redirect's query; it is signed with the session's
# CSRF token, so a link made elsewhere can't put words of its own on a page of the dashboard.
def _notice_signature(csrf_token: str, notice: str) -> str:
    return hmac.new(csrf_token.encode(), notice.encode(), sha256).hexdigest()


def notice_redirect(url: str, csrf_token: str, notice: str) -> web.HTTPFound:
    query = {"done": notice, "sig": _notice_signature(csrf_token, notice)}
    return web.HTTPFound(f"{url}?{urlencode(query)}")


def notice_shown(request: web.Request, csrf_token: str) -> str | None:
    notice, sent = request.query.get("done", ""), request.query.get("sig", "")
    expected = _notice_signature(csrf_token, notice)
    return notice if notice and hmac.compare_digest(sent, expected) else None
