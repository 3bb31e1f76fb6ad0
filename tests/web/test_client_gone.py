"""A client that leaves in the middle of sending its request is nobody's error."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import GUILD, Api


async def test_a_client_leaving_mid_request_is_not_logged_as_an_error(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    key = await api.key()
    address = urlsplit(str(api.server.url))
    _reader, writer = await asyncio.open_connection(address.hostname, address.port)
    head = (
        f"POST /api/v1/guilds/{GUILD}/ticket-panels HTTP/1.1\r\nHost: pegasus\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    writer.write(head.encode() + b'{"title": "Supp')
    await writer.drain()
    await asyncio.sleep(0.3)  # the server is reading the body when the client goes
    writer.transport.abort()
    await asyncio.sleep(0.5)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
    # And the server goes on answering others.
    status, _body, _headers = await api.call("GET", f"/api/v1/guilds/{GUILD}", key=key)
    assert status == 200
