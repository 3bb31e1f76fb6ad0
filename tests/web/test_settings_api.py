"""Settings over HTTP: read with an ETag, change with If-Match, refused like the commands,
audited with the key's owner, the client's address hash and user agent."""

from __future__ import annotations

import hashlib
import hmac

from models.economy import EconomySettings
from models.security import AuditLog, AuditSource
from pegasus.services.economy.settings import SETTINGS as ECONOMY
from pegasus.services.settings import declared
from tests.web.conftest import GUILD, OWNER, SECRET, Api

ECONOMY_URL = f"/api/v1/guilds/{GUILD}/settings/economy"


async def test_every_declared_feature_has_its_settings_endpoints(api: Api) -> None:
    key = await api.key()
    for feature, spec in declared().items():
        status, body, headers = await api.call(
            "GET", f"/api/v1/guilds/{GUILD}/settings/{feature}", key=key
        )
        assert status == 200, (feature, body)
        assert set(body["values"]) == set(spec.by_name)
        assert headers["ETag"] == f'"{body["version"]}"'
    status, listed, _ = await api.call("GET", "/api/v1/settings", key=key)
    assert status == 200
    assert {entry["feature"] for entry in listed} == set(declared())


async def test_a_change_is_stored_answered_and_audited(api: Api) -> None:
    key = await api.key(["economy:read", "economy:write"])
    _, before, headers = await api.call("GET", ECONOMY_URL, key=key)
    status, after, new_headers = await api.call(
        "PATCH",
        ECONOMY_URL,
        key=key,
        json={"daily_amount": 500, "rob_enabled": False},
        headers={"If-Match": headers["ETag"], "User-Agent": "dashboard-test/1.0"},
    )
    assert status == 200, after
    assert after["values"]["daily_amount"] == 500 and after["values"]["rob_enabled"] is False
    assert new_headers["ETag"] != headers["ETag"]
    row = await EconomySettings.get(guild_id=GUILD)
    assert (row.daily_amount, row.rob_enabled) == (500, False)
    audit = await AuditLog.get(action="economy.settings")
    assert audit.source is AuditSource.API
    assert audit.actor_id == OWNER  # type: ignore[attr-defined]
    assert audit.guild_id == GUILD  # type: ignore[attr-defined]
    assert audit.before == {"daily_amount": before["values"]["daily_amount"], "rob_enabled": True}
    assert audit.after == {"daily_amount": 500, "rob_enabled": False}
    assert audit.ip_hash == hmac.new(SECRET, b"127.0.0.1", hashlib.sha256).hexdigest()
    assert audit.user_agent == "dashboard-test/1.0"


async def test_a_stale_if_match_is_412_and_changes_nothing(api: Api) -> None:
    key = await api.key()
    _, _, first = await api.call("GET", ECONOMY_URL, key=key)
    stale = first["ETag"]
    status, _, _ = await api.call(
        "PATCH", ECONOMY_URL, key=key, json={"work_max": 300}, headers={"If-Match": stale}
    )
    assert status == 200
    status, body, _ = await api.call(
        "PATCH", ECONOMY_URL, key=key, json={"work_max": 900}, headers={"If-Match": stale}
    )
    assert status == 412, body
    assert "changed by someone else" in body["detail"]
    assert (await EconomySettings.get(guild_id=GUILD)).work_max == 300
    assert await AuditLog.filter(action="economy.settings").count() == 1


async def test_refusals_use_the_declarations_sentence_and_store_nothing(api: Api) -> None:
    key = await api.key()
    cases = {
        "work_min": (
            {"work_min": 500, "work_max": 100},
            "The minimum work pay can't be above the maximum work pay.",
        ),
        "range": (
            {"sell_percent": 101},
            _refusal("sell_percent", 101),
        ),
        "unknown": (
            {"no_such_setting": 1},
            "`no_such_setting` is not a economy setting; the settings are "
            + ", ".join(ECONOMY.by_name)
            + ".",
        ),
    }
    for name, (changes, sentence) in cases.items():
        status, body, _ = await api.call("PATCH", ECONOMY_URL, key=key, json=changes)
        assert status == 422, (name, body)
        assert body["detail"] == sentence
    assert await EconomySettings.filter(guild_id=GUILD, sell_percent=101).count() == 0
    assert await AuditLog.filter(action="economy.settings").count() == 0


def _refusal(name: str, value: object) -> str:
    try:
        ECONOMY[name].check(value)
    except Exception as error:
        return str(error)
    raise AssertionError(f"{name}={value!r} is accepted")


async def test_a_role_the_bot_gives_is_refused_when_discord_cannot_be_asked(api: Api) -> None:
    """Whether the key's owner could give the role only Discord can tell (tests/web/
    test_api_roles.py asks it); a server without a source of roles refuses, changing nothing."""
    key = await api.key()
    status, body, _ = await api.call(
        "PATCH",
        f"/api/v1/guilds/{GUILD}/settings/moderation",
        key=key,
        json={"mute_role_id": 123456789012345678},
    )
    assert status == 409 and "roles can't be read from Discord" in body["detail"]
    assert await AuditLog.filter(action="moderation.settings").count() == 0


async def test_a_malformed_body_is_400(api: Api) -> None:
    key = await api.key()
    async with api.session.patch(
        ECONOMY_URL,
        data=b"{not json",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert response.content_type == "application/problem+json"
        assert "not valid JSON" in (await response.json(content_type=None))["detail"]


async def test_whole_numbers_written_with_a_decimal_point_are_whole_numbers(api: Api) -> None:
    """JSON Schema counts 300.0 as an integer, so the API does; 300.5 is refused."""
    key = await api.key()
    status, body, _ = await api.call("PATCH", ECONOMY_URL, key=key, json={"daily_amount": 300.0})
    assert status == 200 and body["values"]["daily_amount"] == 300
    status, body, _ = await api.call("PATCH", ECONOMY_URL, key=key, json={"daily_amount": 300.5})
    assert status == 422 and body["detail"] == _refusal("daily_amount", 300.5)


async def test_text_longer_than_documented_is_refused_even_with_spaces(api: Api) -> None:
    key = await api.key()
    limit = ECONOMY["currency_name"].max_length
    assert limit is not None
    padded = "gems" + " " * limit
    status, body, _ = await api.call(
        "PATCH", ECONOMY_URL, key=key, json={"currency_name": padded}
    )
    assert status == 422 and body["detail"] == _refusal("currency_name", "x" * (limit + 1))


async def test_nul_characters_in_a_body_are_dropped_not_a_failed_write(api: Api) -> None:
    """PostgreSQL refuses NUL in text; the API reads bodies as the bot reads interactions."""
    key = await api.key(["economy:read", "economy:write"])
    status, after, _ = await api.call(
        "PATCH", ECONOMY_URL, key=key, json={"currency_name": "Ge\x00ms"}
    )
    assert status == 200, after
    assert (await EconomySettings.get(guild_id=GUILD)).currency_name == "Gems"
