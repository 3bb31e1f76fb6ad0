"""Discord's OAuth2 endpoints as the dashboard calls them: the authorize URL, the code-for-token
exchange, and the person's identity and guilds read with their own (Bearer) token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

from pegasus.i18n import _
from pegasus.services.dashboard import DashboardGuild

__all__ = ["SCOPES", "DiscordOAuth", "OAuthFailed", "TokenGrant", "site_of"]

SCOPES = "identify guilds"
TIMEOUT = aiohttp.ClientTimeout(total=10)


class OAuthFailed(Exception):
    """Discord refused or did not answer; the text is for the person (no token in it)."""


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int
    scope: str

    def __repr__(self) -> str:
        return f"<TokenGrant scope={self.scope!r} expires_in={self.expires_in}>"


def site_of(api_base: str) -> str:
    """Discord's site from its API base: https://discord.com/api/v10 → https://discord.com."""
    parts = urlsplit(api_base)
    path = parts.path
    cut = path.find("/api")
    return urlunsplit((parts.scheme, parts.netloc, path[:cut] if cut >= 0 else "", "", ""))


@dataclass(frozen=True)
class DiscordOAuth:
    api_base: str
    client_id: int
    client_secret: str
    redirect_uri: str

    def authorize_url(self, state: str) -> str:
        query = urlencode(
            {
                "client_id": str(self.client_id),
                "response_type": "code",
                "redirect_uri": self.redirect_uri,
                "scope": SCOPES,
                "state": state,
            }
        )
        return f"{site_of(self.api_base)}/oauth2/authorize?{query}"

    def invite_url(self, guild_id: int, permissions: int) -> str:
        query = urlencode(
            {
                "client_id": str(self.client_id),
                "scope": "bot applications.commands",
                "permissions": str(permissions),
                "guild_id": str(guild_id),
                "disable_guild_select": "true",
            }
        )
        return f"{site_of(self.api_base)}/oauth2/authorize?{query}"

    async def exchange(self, code: str) -> TokenGrant:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": str(self.client_id),
            "client_secret": self.client_secret,
        }
        data = await self._call("POST", "/oauth2/token", data=form)
        if not isinstance(data, dict) or "access_token" not in data:
            raise OAuthFailed(_("Discord did not give an access token; try logging in again."))
        return TokenGrant(
            str(data["access_token"]),
            int(data.get("expires_in") or 0),
            str(data.get("scope") or ""),
        )

    async def revoke(self, access_token: str) -> None:
        """Tell Discord the token is no longer needed (at logout)."""
        form = {
            "token": access_token,
            "token_type_hint": "access_token",
            "client_id": str(self.client_id),
            "client_secret": self.client_secret,
        }
        await self._call("POST", "/oauth2/token/revoke", data=form)

    async def me(self, access_token: str) -> dict[str, Any]:
        data = await self._call("GET", "/users/@me", token=access_token)
        if not isinstance(data, dict) or "id" not in data:
            raise OAuthFailed(_("Discord did not say who you are; try logging in again."))
        return data

    async def guilds(self, access_token: str) -> list[DashboardGuild]:
        data = await self._call("GET", "/users/@me/guilds", token=access_token)
        if not isinstance(data, list):
            raise OAuthFailed(_("Discord did not list your servers; try again in a moment."))
        return [DashboardGuild.from_discord(item) for item in data]

    async def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        data: dict[str, str] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as session,
                session.request(
                    method, self.api_base + path, data=data, headers=headers
                ) as response,
            ):
                if response.status == 401:
                    raise OAuthFailed(_("Discord no longer accepts this sign-in; log in again."))
                if response.status >= 400:
                    raise OAuthFailed(
                        _("Discord refused the sign-in ({status}); try logging in again.").format(
                            status=response.status
                        )
                    )
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise OAuthFailed(
                _("Discord could not be reached ({error}); try again in a moment.").format(
                    error=type(error).__name__
                )
            ) from None
