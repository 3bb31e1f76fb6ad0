"""The REST API's endpoints, one module per feature, each with a `routes` table.

Add a feature's endpoints by writing `pegasus/web/api/<feature>.py` with
`routes = Routes("<feature>", "...")` and its handlers (see `pegasus.web.routes`), and naming the
module here. The application, the OpenAPI document, the reference page and the tests that walk
every route (auth, scopes, guilds) pick it up from this list.
"""

from __future__ import annotations

import importlib

from pegasus.web.routes import Route, Routes

__all__ = ["ROUTE_MODULES", "all_routes"]

ROUTE_MODULES: tuple[str, ...] = (
    "pegasus.web.api.system",
    "pegasus.web.api.settings",
    "pegasus.web.api.configuration",
    "pegasus.web.api.jobs",
    "pegasus.web.api.levels",
    "pegasus.web.api.community",
    "pegasus.web.api.economy",
    "pegasus.web.api.tickets",
    "pegasus.web.api.giveaways",
    "pegasus.web.api.guilds",
    "pegasus.web.api.moderation",
    "pegasus.web.api.security",
)


def all_routes() -> list[Route]:
    """Every declared route, in the order of `ROUTE_MODULES`; a path and method declared twice
    is a mistake found at start-up."""
    routes: list[Route] = []
    seen: set[tuple[str, str]] = set()
    for name in ROUTE_MODULES:
        table = importlib.import_module(name).routes
        assert isinstance(table, Routes), f"{name}.routes is not a Routes table"
        for route in table:
            where = (route.method, route.path)
            if where in seen:
                raise ValueError(f"{route.method} {route.path} is declared twice")
            seen.add(where)
            routes.append(route)
    return routes
