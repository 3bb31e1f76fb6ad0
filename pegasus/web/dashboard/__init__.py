"""The web dashboard: "Log in with Discord", the list of servers a person can manage, and a page
per server. Server-rendered (Jinja2, autoescaped), no JavaScript, served by the same application
as the REST API (see `pegasus.web.dashboard.pages`)."""

from pegasus.web.dashboard.pages import DASHBOARD_PREFIX, DashboardConfig, add_routes

__all__ = ["DASHBOARD_PREFIX", "DashboardConfig", "add_routes"]
