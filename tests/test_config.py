"""Settings: every bad or missing value fails with one line naming the variable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pegasus.config import DEFAULT_DATABASE_URL, Settings, SyncMode
from pegasus.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def settings(**env: str) -> Settings:
    return Settings.from_env({"DISCORD_TOKEN": "abc.def.ghi", **env})


def test_defaults() -> None:
    s = settings()
    assert s.database_url == DEFAULT_DATABASE_URL
    assert s.sync_commands == SyncMode("global")
    assert s.shard_count is None and s.shard_ids is None
    assert s.log_level == "INFO"
    assert s.owner_ids == frozenset()


def test_all_values_parsed() -> None:
    s = settings(
        DATABASE_URL="postgres://u:p@db.example:5432/pegasus",
        DATABASE_SSL="REQUIRE",
        DISCORD_API_BASE="http://127.0.0.1:9000/api/v10/",
        DISCORD_GATEWAY_URL="ws://127.0.0.1:9000/gateway",
        SYNC_COMMANDS="guild:1234",
        SHARD_COUNT="4",
        SHARD_IDS="3, 1",
        LOG_LEVEL="debug",
        OWNER_IDS="1,2",
        WEB_ENABLED="false",
        WEB_HOST="0.0.0.0",
        WEB_PORT="9090",
        WEB_SECRET="s" * 40,
        WEB_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8",
        WEB_IP_RATE_LIMIT="50",
    )
    assert s.database_ssl == "require"
    assert s.discord_api_base == "http://127.0.0.1:9000/api/v10"
    assert s.sync_commands == SyncMode("guild", 1234)
    assert s.shard_count == 4 and s.shard_ids == (1, 3)
    assert s.log_level == "DEBUG"
    assert s.owner_ids == frozenset({1, 2})
    assert (s.web_enabled, s.web_host, s.web_port) == (False, "0.0.0.0", 9090)
    assert s.web_secret == "s" * 40
    assert [str(net) for net in s.web_trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert s.web_ip_rate_limit == 50


def test_the_web_server_is_on_by_default_and_needs_a_secret_on_postgres() -> None:
    s = settings()
    assert (s.web_enabled, s.web_host, s.web_port) == (True, "127.0.0.1", 8080)
    assert s.web_secret is None  # on SQLite: generated beside the database when first served
    with pytest.raises(ConfigError, match=r"^WEB_SECRET is not set"):
        settings(DATABASE_URL="postgres://u:p@db.example:5432/pegasus")
    off = settings(DATABASE_URL="postgres://u:p@db.example:5432/pegasus", WEB_ENABLED="false")
    assert not off.web_enabled


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DISCORD_TOKEN": ""}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "has space"}, "DISCORD_TOKEN"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://host"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://h/db?ssl=true"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite://"}, "DATABASE_URL"),
        ({"DATABASE_SSL": "maybe"}, "DATABASE_SSL"),
        ({"DISCORD_API_BASE": "ftp://x"}, "DISCORD_API_BASE"),
        ({"DISCORD_GATEWAY_URL": "http://x"}, "DISCORD_GATEWAY_URL"),
        ({"SYNC_COMMANDS": "guild:abc"}, "SYNC_COMMANDS"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT"),
        ({"SHARD_IDS": "0"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "a"}, "SHARD_IDS"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"OWNER_IDS": "me"}, "OWNER_IDS"),
        ({"WEB_ENABLED": "maybe"}, "WEB_ENABLED"),
        ({"WEB_PORT": "70000"}, "WEB_PORT"),
        ({"WEB_HOST": "http://x"}, "WEB_HOST"),
        ({"WEB_SECRET": "short"}, "WEB_SECRET"),
        ({"WEB_TRUSTED_PROXIES": "proxy.example"}, "WEB_TRUSTED_PROXIES"),
        ({"WEB_IP_RATE_LIMIT": "0"}, "WEB_IP_RATE_LIMIT"),
    ],
)
def test_bad_value_names_the_variable(env: dict[str, str], variable: str) -> None:
    full = {"DISCORD_TOKEN": "abc", **env}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(full)
    message = str(caught.value)
    assert message.startswith(variable)
    assert "\n" not in message


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "dir" / "bot.sqlite3"
    settings(DATABASE_URL=f"sqlite://{target}")
    assert target.parent.is_dir()


def run_bot(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "bot.py"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bot_without_token_names_discord_token(tmp_path: Path) -> None:
    result = run_bot({"DATABASE_URL": f"sqlite://{tmp_path}/x.sqlite3"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DISCORD_TOKEN" in lines[0]


def test_bot_with_bad_database_url_names_it() -> None:
    result = run_bot({"DISCORD_TOKEN": "abc", "DATABASE_URL": "mongodb://nowhere/db"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DATABASE_URL" in lines[0]


def env_example_lines() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


def test_env_example_documents_every_setting() -> None:
    from dataclasses import fields

    lines = env_example_lines()
    for setting in fields(Settings):
        variable = setting.name.upper()
        index = next(
            (i for i, line in enumerate(lines) if line.lstrip("# ").startswith(f"{variable}=")),
            None,
        )
        assert index is not None, f".env.example does not mention {variable}"
        assert index > 0 and lines[index - 1].startswith("# "), f"{variable} has no comment"


def test_env_example_values_are_valid_settings() -> None:
    assignment = re.compile(r"^(# )?([A-Z_]+)=(.*)$")
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in env_example_lines():
        if match := assignment.match(line):
            (commented if match[1] else active)[match[2]] = match[3]
    assert active.pop("DISCORD_TOKEN") == ""  # the operator fills it in
    example = {**active, **commented, "DISCORD_TOKEN": "abc.def.ghi"}
    example["DATABASE_URL"] = "postgres://u:p@db.example:5432/pegasus"  # no folder to create
    parsed = Settings.from_env(example)
    assert parsed.shard_ids == (0, 1) and parsed.database_ssl == "require"
    assert Settings.from_env({**active, "DISCORD_TOKEN": "x"}).database_url == DEFAULT_DATABASE_URL


def test_guild_data_retention_days() -> None:
    assert settings().guild_data_retention_days == 30
    assert settings(GUILD_DATA_RETENTION_DAYS="7").guild_data_retention_days == 7
    assert settings(GUILD_DATA_RETENTION_DAYS="0").guild_data_retention_days == 0
    for bad in ("-1", "1.5", "a week", "3651"):
        with pytest.raises(ConfigError, match=r"^GUILD_DATA_RETENTION_DAYS must be"):
            settings(GUILD_DATA_RETENTION_DAYS=bad)


def test_attachment_store_limits() -> None:
    assert (settings().attachment_file_limit_mb, settings().attachment_guild_limit_mb) == (8, 256)
    chosen = settings(ATTACHMENT_FILE_LIMIT_MB="25", ATTACHMENT_GUILD_LIMIT_MB="2048")
    assert (chosen.attachment_file_limit_mb, chosen.attachment_guild_limit_mb) == (25, 2048)
    for name in ("ATTACHMENT_FILE_LIMIT_MB", "ATTACHMENT_GUILD_LIMIT_MB"):
        for bad in ("0", "-1", "1.5", "8MB", "99999999"):
            with pytest.raises(ConfigError, match=rf"^{name} must be a whole number of megabytes"):
                settings(**{name: bad})


async def test_the_bot_keeps_attachments_within_the_configured_limits() -> None:
    from pegasus.bot import Pegasus

    chosen = Settings(discord_token="x", attachment_file_limit_mb=3, attachment_guild_limit_mb=40)
    async with Pegasus(chosen) as bot:
        limits = bot.attachment_keeper.limits
    assert (limits.max_file_bytes, limits.max_guild_bytes) == (3 * 1024 * 1024, 40 * 1024 * 1024)
