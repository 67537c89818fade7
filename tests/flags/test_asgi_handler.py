"""The ASGI handler: a request's middleware and view run in one handoff to a worker thread."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref import sync

from flags.services import flag_upsert
from sidekick.handler import SyncChainASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)

# request_started, the request (middleware and view), response.close (request_finished).
HANDOFFS_PER_REQUEST = 3


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _serve(handler: SyncChainASGIHandler, scope: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    body_sent = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not body_sent.is_set():
            body_sent.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        messages.append(message)

    await handler(scope, receive, send)
    return messages


def test_request_goes_through_every_middleware_in_one_handoff(keys, monkeypatch) -> None:
    flag_upsert(data={"key": "checkout", "is_enabled": True}, actor="test")
    handoffs = 0
    original = sync.SyncToAsync.__call__

    async def counting_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal handoffs
        handoffs += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counting_call)
    handler = SyncChainASGIHandler()
    scope = _scope("/api/flags/checkout", [(b"authorization", f"Bearer {keys['admin']}".encode())])

    messages = asyncio.run(_serve(handler, scope))

    start = messages[0]
    assert start["type"] == "http.response.start" and start["status"] == 200
    headers = dict(start["headers"])
    # Middleware ran: the clickjacking and security middleware set their headers.
    assert headers[b"X-Frame-Options"] == b"DENY"
    assert headers[b"X-Content-Type-Options"] == b"nosniff"
    body = b"".join(m.get("body", b"") for m in messages[1:])
    assert json.loads(body)["key"] == "checkout"
    assert handoffs == HANDOFFS_PER_REQUEST
