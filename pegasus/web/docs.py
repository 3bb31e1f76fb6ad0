"""`/api/docs`: the API reference as a plain HTML page, rendered by the server from the OpenAPI
document (no script, no CDN); `/api/docs.css` is its style sheet, shipped with the package."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["add_routes", "render"]

STATIC = Path(__file__).resolve().parent / "static"
_METHODS = ("get", "post", "put", "patch", "delete")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/docs", page)
    app.router.add_get("/api/docs.css", stylesheet)


async def page(request: web.Request) -> web.Response:
    from pegasus.web.app import STATE

    return web.Response(text=render(request.app[STATE].openapi), content_type="text/html")


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(
        text=(STATIC / "docs.css").read_text(encoding="utf-8"), content_type="text/css"
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render(document: dict[str, Any]) -> str:
    info = document["info"]
    operations: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document["paths"].items():
        for method in _METHODS:
            if method in item:
                operation = item[method]
                operations.setdefault(operation["tags"][0], []).append((method, path, operation))
    schemas = document["components"]["schemas"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(info['title'])}</title>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<link rel='stylesheet' href='/api/docs.css'></head><body>",
        f"<header><h1>{_e(info['title'])} <small>v{_e(info['version'])}</small></h1>",
        f"<p>{_e(info['description'])}</p>",
        "<p>Base URL: <code>/api/v1</code> · Machine-readable: "
        "<a href='/api/v1/openapi.json'>openapi.json</a></p></header>",
        "<nav><ul>",
    ]
    for tag in sorted(operations):
        parts.append(f"<li><a href='#tag-{_e(tag)}'>{_e(tag)}</a></li>")
    parts.append("</ul></nav><main>")
    for tag in sorted(operations):
        parts.append(f"<section id='tag-{_e(tag)}'><h2>{_e(tag)}</h2>")
        for method, path, operation in operations[tag]:
            parts.append(_operation(method, path, operation, schemas))
        parts.append("</section>")
    parts.append(_problems(document))
    parts.append("</main></body></html>")
    return "".join(parts)


def _operation(method: str, path: str, operation: dict[str, Any], schemas: dict[str, Any]) -> str:
    anchor = _e(operation["operationId"])
    parts = [
        f"<article id='{anchor}'><h3><span class='method {method}'>{method.upper()}</span> "
        f"<code>{_e(path)}</code></h3><p class='summary'>{_e(operation['summary'])}</p>",
        f"<p class='scope'>Scope: <code>{_e(operation.get('x-scope') or 'any key')}</code></p>",
    ]
    if operation.get("description"):
        parts.append(f"<p>{_e(operation['description'])}</p>")
    if operation["parameters"]:
        parts.append("<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>About</th></tr>")
        for param in operation["parameters"]:
            required = " (required)" if param.get("required") else ""
            parts.append(
                f"<tr><td><code>{_e(param['name'])}</code>{required}</td>"
                f"<td>{_e(param['in'])}</td><td>{_e(_type_text(param['schema']))}</td>"
                f"<td>{_e(param.get('description', ''))}</td></tr>"
            )
        parts.append("</table>")
    body = operation.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        parts.append("<h4>Body</h4>" + _schema_block(schema, schemas))
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            content = response.get("content", {}).get("application/json")
            parts.append(f"<h4>Answer {_e(status)}</h4>")
            if content:
                parts.append(_schema_block(content["schema"], schemas))
    parts.append("</article>")
    return "".join(parts)


def _type_text(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    bounds = [f"{key} {schema[key]}" for key in ("minimum", "maximum") if key in schema]
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _schema_block(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    return f"<pre>{_e(json.dumps(_resolve(schema, schemas, 0), indent=2))}</pre>"


def _resolve(schema: Any, schemas: dict[str, Any], depth: int) -> Any:
    """The schema with `$ref`s replaced by what they name (a few levels deep)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and depth < 4:
            return _resolve(schemas[ref.rsplit("/", 1)[1]], schemas, depth + 1)
        return {key: _resolve(value, schemas, depth) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolve(item, schemas, depth) for item in schema]
    return schema


def _problems(document: dict[str, Any]) -> str:
    parts = [
        "<section id='problems'><h2>Errors</h2><p>Every error is "
        "<code>application/problem+json</code>; <code>detail</code> is a sentence that "
        "says what to do.</p><table><tr><th>Status</th><th>Meaning</th></tr>"
    ]
    any_operation = next(
        (item[m] for item in document["paths"].values() for m in _METHODS if m in item), None
    )
    if any_operation is not None:
        for status, response in any_operation["responses"].items():
            if not status.startswith("2"):
                parts.append(
                    f"<tr id='problem-{_e(status)}'><td>{_e(status)}</td>"
                    f"<td>{_e(response['description'])}</td></tr>"
                )
    parts.append("</table></section>")
    return "".join(parts)
