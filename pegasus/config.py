"""Settings read once at start-up from the environment (and `.env`).

Every bad or missing value raises `ConfigError` with one line that names the variable and the fix,
so an operator never has to read a traceback to start the bot.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from pegasus.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite://data/pegasus.sqlite3"
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SSL_MODES = ("disable", "prefer", "require", "verify-ca", "verify-full")
SQLITE_PREFIX = "sqlite://"
POSTGRES_SCHEMES = ("postgres", "postgresql", "asyncpg")
DEFAULT_GUILD_DATA_RETENTION_DAYS = 30
MAX_GUILD_DATA_RETENTION_DAYS = 3650
# The attachment store: megabytes kept of one file, and of one server's files together.
DEFAULT_ATTACHMENT_FILE_LIMIT_MB = 8
DEFAULT_ATTACHMENT_GUILD_LIMIT_MB = 256
MAX_ATTACHMENT_FILE_LIMIT_MB = 500  # Discord's largest upload
MAX_ATTACHMENT_GUILD_LIMIT_MB = 1_000_000
DEFAULT_WEB_HOST = "127.0.0.1"
DEFAULT_WEB_PORT = 8080
DEFAULT_WEB_IP_RATE_LIMIT = 300  # requests a minute from one client address
MIN_WEB_SECRET_LENGTH = 32
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class SyncMode:
    """Where application commands are synced at start-up."""

    scope: str  # "global", "guild" or "off"
    guild_id: int | None = None


@dataclass(frozen=True)
class Settings:
    discord_token: str
    database_url: str = DEFAULT_DATABASE_URL
    database_ssl: str | None = None
    discord_api_base: str = DEFAULT_API_BASE
    discord_gateway_url: str = DEFAULT_GATEWAY_URL
    sync_commands: SyncMode = field(default_factory=lambda: SyncMode("global"))
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    log_level: str = "INFO"
    owner_ids: frozenset[int] = frozenset()
    # Days a guild's data is kept after the bot leaves it: whole days from the environment; a
    # fraction of a day is for tests that cannot wait that long.
    guild_data_retention_days: float = DEFAULT_GUILD_DATA_RETENTION_DAYS
    attachment_file_limit_mb: int = DEFAULT_ATTACHMENT_FILE_LIMIT_MB
    attachment_guild_limit_mb: int = DEFAULT_ATTACHMENT_GUILD_LIMIT_MB
    # The web server (REST API): off unless asked for when settings are built in code; on by
    # default for `from_env`, i.e. for operators.
    web_enabled: bool = False
    web_host: str = DEFAULT_WEB_HOST
    web_port: int = DEFAULT_WEB_PORT
    web_secret: str | None = None  # None on SQLite: generated once and kept beside the database
    web_trusted_proxies: tuple[IpNetwork, ...] = ()
    web_ip_rate_limit: int = DEFAULT_WEB_IP_RATE_LIMIT
    # The dashboard's "Log in with Discord": off without a client secret. The client id is the
    # application's (the bot's) unless DISCORD_CLIENT_ID says otherwise; the redirect URI is
    # <web_public_url>/dashboard/callback (default: the server's own address).
    discord_client_id: int | None = None
    discord_client_secret: str | None = None
    web_public_url: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, load_dotenv: bool = True
    ) -> Settings:
        """Build settings from `env` (default: `.env` merged under `os.environ`)."""
        if env is None:
            if load_dotenv:
                from dotenv import load_dotenv as _load

                _load(override=False)
            env = os.environ
        shard_count = _parse_optional_int(env, "SHARD_COUNT", minimum=1)
        shard_ids = _parse_shard_ids(env, shard_count)
        database_url = parse_database_url(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
        web_enabled = _parse_bool(env, "WEB_ENABLED", default=True)
        return cls(
            discord_token=_parse_token(env),
            database_url=database_url,
            database_ssl=_parse_ssl(env),
            discord_api_base=_parse_http_url(env, "DISCORD_API_BASE", DEFAULT_API_BASE),
            discord_gateway_url=_parse_ws_url(env),
            sync_commands=_parse_sync(env),
            shard_count=shard_count,
            shard_ids=shard_ids,
            log_level=_parse_log_level(env),
            owner_ids=_parse_owner_ids(env),
            guild_data_retention_days=_parse_guild_data_retention_days(env),
            attachment_file_limit_mb=_parse_megabytes(
                env,
                "ATTACHMENT_FILE_LIMIT_MB",
                DEFAULT_ATTACHMENT_FILE_LIMIT_MB,
                MAX_ATTACHMENT_FILE_LIMIT_MB,
            ),
            attachment_guild_limit_mb=_parse_megabytes(
                env,
                "ATTACHMENT_GUILD_LIMIT_MB",
                DEFAULT_ATTACHMENT_GUILD_LIMIT_MB,
                MAX_ATTACHMENT_GUILD_LIMIT_MB,
            ),
            web_enabled=web_enabled,
            web_host=_parse_web_host(env),
            web_port=_parse_port(env),
            web_secret=parse_web_secret(env, database_url, required=web_enabled),
            web_trusted_proxies=_parse_trusted_proxies(env),
            web_ip_rate_limit=_parse_optional_int(env, "WEB_IP_RATE_LIMIT", minimum=1)
            or DEFAULT_WEB_IP_RATE_LIMIT,
            discord_client_id=_parse_optional_int(env, "DISCORD_CLIENT_ID", minimum=1),
            discord_client_secret=_parse_client_secret(env),
            web_public_url=_parse_public_url(env),
        )


def _parse_token(env: Mapping[str, str]) -> str:
    token = (env.get("DISCORD_TOKEN") or "").strip()
    if not token:
        raise ConfigError(
            "DISCORD_TOKEN is not set: put your bot token in .env as DISCORD_TOKEN=... "
            "(Discord Developer Portal → your application → Bot → Reset Token), "
            "or run `python -m pegasus sandbox` to try Pegasus without one."
        )
    if any(ch.isspace() for ch in token):
        raise ConfigError("DISCORD_TOKEN contains white space: paste the token exactly as shown.")
    return token


def parse_database_url(url: str) -> str:
    """Validate a DATABASE_URL and return it; create the SQLite folder when needed."""
    url = url.strip()
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX):].split("?", 1)[0]
        if not path:
            raise ConfigError(
                "DATABASE_URL has no SQLite file: use sqlite://data/pegasus.sqlite3 "
                "(relative) or sqlite:///absolute/path.sqlite3."
            )
        if path != ":memory:":
            _ensure_parent_folder(Path(path))
        return url
    parsed = urlparse(url)
    if parsed.scheme in POSTGRES_SCHEMES:
        if "ssl=" in parsed.query or "sslmode=" in parsed.query:
            raise ConfigError(
                "DATABASE_URL must not carry ssl options: remove ssl=/sslmode= from the URL "
                "and set DATABASE_SSL=require (or verify-full) instead."
            )
        if not parsed.hostname or not parsed.path.strip("/"):
            raise ConfigError(
                "DATABASE_URL is missing a host or database name: use "
                "postgres://user:password@host:5432/pegasus."
            )
        try:
            _ = parsed.port
        except ValueError:
            raise ConfigError("DATABASE_URL has an invalid port: use host:5432.") from None
        return url
    raise ConfigError(
        f"DATABASE_URL scheme {parsed.scheme or url!r} is not supported: use "
        "sqlite://data/pegasus.sqlite3 or postgres://user:password@host:5432/pegasus."
    )


def _ensure_parent_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"DATABASE_URL points at {path}, whose folder cannot be created ({exc.strerror}): "
            "choose a writable path."
        ) from None


def _parse_ssl(env: Mapping[str, str]) -> str | None:
    value = (env.get("DATABASE_SSL") or "").strip().lower()
    if not value:
        return None
    if value not in SSL_MODES:
        raise ConfigError(f"DATABASE_SSL must be one of {', '.join(SSL_MODES)}; got {value!r}.")
    return value


def _parse_http_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or default).strip().rstrip("/")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http(s) URL such as {default}; got {value!r}.")
    return value


def _parse_ws_url(env: Mapping[str, str]) -> str:
    value = (env.get("DISCORD_GATEWAY_URL") or DEFAULT_GATEWAY_URL).strip()
    parsed = urlparse(value)
    if parsed.scheme not in ("ws", "wss") or not parsed.netloc:
        raise ConfigError(
            f"DISCORD_GATEWAY_URL must be a ws(s) URL such as {DEFAULT_GATEWAY_URL}; got {value!r}."
        )
    return value


def _parse_sync(env: Mapping[str, str]) -> SyncMode:
    value = (env.get("SYNC_COMMANDS") or "global").strip().lower()
    if value in ("global", "off"):
        return SyncMode(value)
    if value.startswith("guild:") and value[6:].isdigit():
        return SyncMode("guild", int(value[6:]))
    raise ConfigError(
        f"SYNC_COMMANDS must be global, off or guild:<server id>; got {value!r}."
    )


def _parse_optional_int(env: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name} must be a whole number of at least {minimum}; got {raw!r}.")
    return int(raw)


def _parse_shard_ids(env: Mapping[str, str], shard_count: int | None) -> tuple[int, ...] | None:
    raw = (env.get("SHARD_IDS") or "").strip()
    if not raw:
        return None
    if shard_count is None:
        raise ConfigError("SHARD_IDS needs SHARD_COUNT: set SHARD_COUNT to the total shard count.")
    parts = [p.strip() for p in raw.split(",")]
    if not all(p.isdigit() for p in parts):
        raise ConfigError(f"SHARD_IDS must be comma-separated numbers like 0,1; got {raw!r}.")
    ids = tuple(sorted({int(p) for p in parts}))
    if ids[-1] >= shard_count:
        raise ConfigError(
            f"SHARD_IDS has {ids[-1]}, but shards are numbered 0 to {shard_count - 1} "
            f"(SHARD_COUNT={shard_count})."
        )
    return ids


def _parse_log_level(env: Mapping[str, str]) -> str:
    value = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}; got {value!r}.")
    return value


def _parse_guild_data_retention_days(env: Mapping[str, str]) -> int:
    raw = (env.get("GUILD_DATA_RETENTION_DAYS") or "").strip()
    if not raw:
        return DEFAULT_GUILD_DATA_RETENTION_DAYS
    if not raw.isdigit() or int(raw) > MAX_GUILD_DATA_RETENTION_DAYS:
        raise ConfigError(
            "GUILD_DATA_RETENTION_DAYS must be a whole number of days from 0 (delete as soon "
            f"as the bot leaves) to {MAX_GUILD_DATA_RETENTION_DAYS}; got {raw!r}."
        )
    return int(raw)


def _parse_megabytes(env: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ConfigError(
            f"{name} must be a whole number of megabytes from 1 to {maximum:,}; got {raw!r}."
        )
    return int(raw)


def _parse_owner_ids(env: Mapping[str, str]) -> frozenset[int]:
    raw = (env.get("OWNER_IDS") or "").strip()
    if not raw:
        return frozenset()
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise ConfigError(
            f"OWNER_IDS must be comma-separated Discord user ids; got {raw!r}."
        )
    return frozenset(int(p) for p in parts)


def _parse_bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "yes", "on", "1"):
        return True
    if raw in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"{name} must be true or false; got {raw!r}.")


def _parse_web_host(env: Mapping[str, str]) -> str:
    value = (env.get("WEB_HOST") or DEFAULT_WEB_HOST).strip()
    if any(ch.isspace() or ch in "/:" for ch in value) and not _is_ip(value):
        raise ConfigError(
            f"WEB_HOST must be an address or host name such as 127.0.0.1 or 0.0.0.0; got {value!r}."
        )
    return value


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _parse_port(env: Mapping[str, str]) -> int:
    raw = (env.get("WEB_PORT") or str(DEFAULT_WEB_PORT)).strip()
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ConfigError(
            f"WEB_PORT must be a port number from 1 to 65535 (0: any free port); got {raw!r}."
        )
    return int(raw)


def parse_web_secret(env: Mapping[str, str], database_url: str, *, required: bool) -> str | None:
    """WEB_SECRET, which keys the hashes of client addresses in the audit log.

    Every process of a PostgreSQL deployment must hash alike, so there it must be given; on
    SQLite (one machine) it may be left out and is generated once beside the database.
    """
    value = (env.get("WEB_SECRET") or "").strip()
    if not value:
        if required and not database_url.startswith(SQLITE_PREFIX):
            raise ConfigError(
                "WEB_SECRET is not set: the web server on PostgreSQL needs a secret shared by "
                "every process; generate one with `python -c \"import secrets; "
                "print(secrets.token_hex(32))\"` and put it in .env, or set WEB_ENABLED=false."
            )
        return None
    if len(value) < MIN_WEB_SECRET_LENGTH or any(ch.isspace() for ch in value):
        raise ConfigError(
            f"WEB_SECRET must be at least {MIN_WEB_SECRET_LENGTH} characters without spaces; "
            "generate one with `python -c \"import secrets; print(secrets.token_hex(32))\"`."
        )
    return value


def _parse_trusted_proxies(env: Mapping[str, str]) -> tuple[IpNetwork, ...]:
    raw = (env.get("WEB_TRUSTED_PROXIES") or "").strip()
    if not raw:
        return ()
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                "WEB_TRUSTED_PROXIES must be comma-separated addresses or networks such as "
                f"127.0.0.1,10.0.0.0/8; {part!r} is neither."
            ) from None
    return tuple(networks)


def _parse_client_secret(env: Mapping[str, str]) -> str | None:
    value = (env.get("DISCORD_CLIENT_SECRET") or "").strip()
    if not value:
        return None
    if any(ch.isspace() for ch in value):
        raise ConfigError(
            "DISCORD_CLIENT_SECRET contains white space: paste it exactly as the Developer Portal "
            "shows it (your application → OAuth2 → Client Secret)."
        )
    return value


def _parse_public_url(env: Mapping[str, str]) -> str | None:
    value = (env.get("WEB_PUBLIC_URL") or "").strip().rstrip("/")
    if not value:
        return None
    parsed = urlparse(value)
    extra = parsed.query or parsed.fragment
    if parsed.scheme not in ("http", "https") or not parsed.netloc or extra:
        raise ConfigError(
            "WEB_PUBLIC_URL must be the http(s) address people open the dashboard at, such as "
            f"https://pegasus.example.org; got {value!r}."
        )
    return value
