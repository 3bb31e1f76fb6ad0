"""The dashboard without a browser: its settings, the page without a client secret, its headers,
and the expiry of sessions."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from models.web import WebSession
from pegasus.config import Settings
from pegasus.errors import ConfigError
from pegasus.services.dashboard import (
    DashboardGuild,
    end_session,
    find_session,
    forget_expired,
    start_session,
)
from pegasus.web.app import client_id_of_token, web_config
from pegasus.web.dashboard.sealing import seal, unseal
from tests.web.conftest import GUILD, Api

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def settings(**env: str) -> Settings:
    return Settings.from_env(
        {"DISCORD_TOKEN": "abc.def.ghi", "DATABASE_URL": "sqlite://:memory:", **env},
        load_dotenv=False,
    )


def test_the_dashboard_settings_are_read_and_checked() -> None:
    parsed = settings(
        DISCORD_CLIENT_SECRET="s3cret",
        WEB_PUBLIC_URL="https://pegasus.example.org/",
        DISCORD_CLIENT_ID="1234567890",
    )
    assert parsed.discord_client_secret == "s3cret"
    assert parsed.web_public_url == "https://pegasus.example.org"
    assert parsed.discord_client_id == 1234567890
    unset = settings()
    assert (unset.discord_client_secret, unset.web_public_url, unset.discord_client_id) == (
        None,
        None,
        None,
    )
    bad = {
        "DISCORD_CLIENT_SECRET": "has space",
        "WEB_PUBLIC_URL": "pegasus.example.org",
        "DISCORD_CLIENT_ID": "abc",
    }
    for variable, value in bad.items():
        with pytest.raises(ConfigError, match=variable) as refused:
            settings(**{variable: value})
        assert "\n" not in str(refused.value)


def test_the_client_id_comes_from_the_bot_token_unless_set() -> None:
    application = 1_179_000_000_000_000_123
    head = base64.b64encode(str(application).encode()).decode().rstrip("=")
    token = f"{head}.GhIjKl.signature"
    assert client_id_of_token(token) == application
    assert client_id_of_token("local.discord.token") is None
    config = web_config(settings(DISCORD_TOKEN=token, WEB_SECRET="x" * 40))
    assert config.dashboard.token_client_id == application
    assert config.dashboard.client_id is None
    assert config.dashboard.secure_cookies is False
    https = web_config(settings(WEB_SECRET="x" * 40, WEB_PUBLIC_URL="https://a.example"))
    assert https.dashboard.secure_cookies is True


async def test_without_a_client_secret_the_dashboard_says_how_and_the_api_works(
    api: Api,
) -> None:
    status, page, headers = await api.call("GET", "/dashboard")
    assert status == 200
    assert "DISCORD_CLIENT_SECRET" in page
    assert "/dashboard/callback" in page
    assert 'href="/dashboard/login"' not in page
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    # Its pages send people back to it; the login does not start.
    async with api.session.get("/dashboard/login", allow_redirects=False) as answer:
        assert (answer.status, answer.headers["Location"]) == (302, "/dashboard")
    key = await api.key()
    status, body, _ = await api.call("GET", f"/api/v1/guilds/{GUILD}/levels/rewards", key=key)
    assert status == 200, body  # the API answers as always
    status, css, headers = await api.call("GET", "/dashboard/static/dashboard.css")
    assert status == 200 and "main" in css


async def test_sessions_end_at_logout_and_at_expiry(db: str) -> None:
    guild = DashboardGuild(id=1, name="A", icon=None, owner=False, permissions=1 << 5)
    secret, session = await start_session(
        user_id=42,
        user_name="alice",
        sealed_token="token-value",
        token_expires_at=NOW + timedelta(days=7),
        guilds=[guild],
        now=NOW,
    )
    assert "token-value" not in repr(session)
    assert secret not in session.id  # only the hash is stored
    found = await find_session(secret, NOW + timedelta(days=6))
    assert found is not None and found.guild(1) == guild and found.guild(1).manageable
    assert await find_session(secret, NOW + timedelta(days=7, seconds=1)) is None
    assert await find_session("another-secret", NOW) is None
    assert await forget_expired(NOW + timedelta(days=1)) == 0
    assert await forget_expired(NOW + timedelta(days=8)) == 1
    secret, session = await start_session(
        user_id=42,
        user_name="alice",
        sealed_token="t",
        token_expires_at=NOW + timedelta(hours=1),  # a token that ends first ends the session
        guilds=[],
        now=NOW,
    )
    assert session.expires_at == NOW + timedelta(hours=1)
    assert await end_session(session.id) is True
    assert await find_session(secret, NOW) is None
    assert await WebSession.all().count() == 0


def test_access_tokens_are_sealed_under_the_web_secret() -> None:
    secret = b"a-web-secret-of-at-least-32-characters"
    sealed = seal(secret, "discord-access-token")
    assert "discord-access-token" not in sealed
    assert sealed != seal(secret, "discord-access-token")  # a fresh nonce each time
    assert unseal(secret, sealed) == "discord-access-token"
    assert unseal(b"another-secret-of-at-least-32-characters", sealed) is None
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    assert unseal(secret, tampered) is None
    assert unseal(secret, "not base64 at all!") is None
