"""The web server: the REST API (`/api/v1`), its OpenAPI document and reference page, health
and metrics. See `pegasus.web.app` (the application) and `pegasus.web.routes` (declaring
endpoints)."""

from pegasus.web.app import WebConfig, WebServer, create_app, web_config

__all__ = ["WebConfig", "WebServer", "create_app", "web_config"]
