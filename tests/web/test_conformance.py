"""Answers conform to the document: every declared GET answers with what its schema says, and
each feature's settings survive a round trip (what GET gives, PATCH takes back)."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator

from pegasus.services.settings import declared
from pegasus.web.api import all_routes
from pegasus.web.api.settings import ROLES_GIVEN
from pegasus.web.openapi import PROBLEM_SCHEMA
from pegasus.web.routes import Route
from tests.web.conftest import GUILD, Api


def answer_schema(document: dict[str, Any], route: Route) -> dict[str, Any]:
    operation = document["paths"][route.path][route.method.lower()]
    content = operation["responses"][str(route.status)]["content"]["application/json"]
    # The components travel with the schema so that its $refs resolve.
    return {**content["schema"], "components": document["components"]}


def conforms(schema: dict[str, Any], value: Any) -> list[str]:
    return [error.message for error in Draft202012Validator(schema).iter_errors(value)]


async def test_every_get_answers_as_documented(api: Api) -> None:
    key = await api.key()
    _, document, _ = await api.call("GET", "/api/v1/openapi.json")
    checked = 0
    for route in all_routes():
        if route.method != "GET" or re.search(r"{(?!guild_id})\w+}", route.path):
            continue  # routes of one thing are checked by their features' tests
        path = "/api/v1" + route.path.replace("{guild_id}", str(GUILD))
        status, body, headers = await api.call("GET", path, key=key)
        assert status == route.status, (route.path, body)
        assert headers["Content-Type"].startswith("application/json")
        assert conforms(answer_schema(document, route), body) == [], route.path
        checked += 1
    assert checked >= len(declared()) + 2  # every feature's settings, /me and /settings


async def test_settings_survive_a_round_trip(api: Api) -> None:
    key = await api.key()
    _, document, _ = await api.call("GET", "/api/v1/openapi.json")
    for route in all_routes():
        if route.method != "PATCH" or "/settings/" not in route.path:
            continue
        feature = route.path.rsplit("/", 1)[1]
        url = "/api/v1" + route.path.replace("{guild_id}", str(GUILD))
        _, read, headers = await api.call("GET", url, key=key)
        values = {
            name: value
            for name, value in read["values"].items()
            if name not in ROLES_GIVEN.get(feature, ())
        }
        body_schema = {
            **document["paths"][route.path]["patch"]["requestBody"]["content"][
                "application/json"
            ]["schema"],
            "components": document["components"],
        }
        assert conforms(body_schema, values) == [], feature  # what GET gives, PATCH documents
        status, answer, new_headers = await api.call(
            "PATCH", url, key=key, json=values, headers={"If-Match": headers["ETag"]}
        )
        assert status == 200, (feature, answer)
        assert answer["values"] == read["values"] and new_headers["ETag"] == headers["ETag"]
        assert conforms(answer_schema(document, route), answer) == []


async def test_problems_conform_to_the_problem_schema(api: Api) -> None:
    key = await api.key(["economy:read"])
    for method, path, sent in (
        ("GET", "/api/v1/me", None),
        ("GET", "/api/v1/nowhere", key),
        ("PATCH", f"/api/v1/guilds/{GUILD}/settings/economy", key),
    ):
        status, body, headers = await api.call(method, path, key=sent, json={"x": 1})
        assert status >= 400
        assert headers["Content-Type"].startswith("application/problem+json")
        assert conforms(PROBLEM_SCHEMA, body) == []
        assert body["status"] == status
