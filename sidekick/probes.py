"""`/healthz`, `/readyz` and `/metrics`, answered at the ASGI level, before Django.

Probes and scrapers reach a process by its own address (a pod IP, a container name), so these
endpoints skip Django's host check and middleware: they never need `ALLOWED_HOSTS` to list every
address, never need an API key, and say nothing about versions or settings.

- `/healthz`: the process is alive and its event loop answers. No I/O at all.
- `/readyz`: the database answers a query, the flag store is loaded, and — when a channel layer
  joins the processes (REDIS_URL) — this process has joined the updates group. 503 with the
  error shape naming what is not ready otherwise (sidekick/readiness.py holds the reports).
- `/metrics`: Prometheus text (sidekick/metrics.py), only with `Authorization: Bearer
  <SIDEKICK_METRICS_TOKEN>`; without that setting the endpoint does not exist (404).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

from sidekick import metrics, readiness

logger = logging.getLogger("sidekick.probes")

Send = Callable[[dict[str, Any]], Awaitable[None]]
NO_STORE = (b"cache-control", b"no-store")


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A complete response in two ASGI messages."""
    all_headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        NO_STORE,
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, document: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(document, separators=(",", ":")).encode()
    await send_response(send, status, body, b"application/json", headers)


def error_document(detail: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The one error shape of the API, for answers given outside DRF."""
    return {"detail": detail, "errors": errors or {}}


async def healthz(send: Send) -> None:
    await send_json(send, 200, {"status": "ok"})


def _database_answers() -> bool:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception as error:
        # The reason goes to the log only: the probe's answer names no host or driver.
        logger.warning("readiness: database unreachable: %s", error)
        return False
    finally:
        connections["default"].close()


def expected_components() -> list[str]:
    expected = [readiness.STORE]
    if settings.REDIS_URL:
        expected.append(readiness.CHANNEL_LAYER)
    return expected


_NOT_READY_MESSAGES = {
    readiness.STORE: "The flag store is not loaded yet.",
    readiness.CHANNEL_LAYER: "This process has not joined the channel layer's updates group.",
}


async def readyz(send: Send, start_components: Callable[[], Awaitable[None]]) -> None:
    """Starts what a process starts on its first request, then reports what is still missing."""
    try:
        await start_components()
    except Exception as error:
        logger.warning("readiness: start-up incomplete: %s", error)
    errors: dict[str, list[str]] = {}
    # Its own thread: a database that hangs must not hold the request thread other views use.
    if not await sync_to_async(_database_answers, thread_sensitive=False)():
        errors["database"] = ["The database does not answer."]
    for component in readiness.missing(expected_components()):
        errors[component] = [_NOT_READY_MESSAGES[component]]
    if errors:
        await send_json(send, 503, error_document("Not ready.", errors))
    else:
        await send_json(send, 200, {"status": "ready"})


def _bearer_token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


async def metrics_endpoint(scope: dict[str, Any], send: Send) -> None:
    expected = settings.SIDEKICK_METRICS_TOKEN
    if not expected:
        await send_json(send, 404, error_document("Not found."))
        return
    given = _bearer_token(scope)
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        await send_json(
            send,
            401,
            error_document("Metrics need Authorization: Bearer <SIDEKICK_METRICS_TOKEN>."),
            [(b"www-authenticate", b'Bearer realm="sidekick-metrics"')],
        )
        return
    body, content_type = await sync_to_async(metrics.exposition, thread_sensitive=False)()
    await send_response(send, 200, body, content_type.encode())
