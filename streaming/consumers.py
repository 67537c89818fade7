"""`GET /stream`: the Server-Sent Events consumer that bootstraps an SDK and forwards every change.

A Channels async consumer speaking the ASGI HTTP protocol directly: `http.request` authenticates,
subscribes the connection to the process's hub (before the snapshot is read, so no change can
fall between them), writes the shared snapshot bytes and returns — the consumer keeps running
until `http.disconnect`, which unsubscribes it. (Channels' AsyncHttpConsumer cannot do this: it
ends the response when `handle()` returns and cannot see a disconnect while `handle()` runs.)

The connection has no channel-layer channel of its own: deltas come from the hub, which holds
the process's one group subscription, so a delta costs one Redis message per instance.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from django.conf import settings
from django.db import close_old_connections

from streaming.flag_store import encode_json, process_flag_store
from streaming.hub import StreamSubscriber, update_hub

logger = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]

STREAM_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # nginx and compatible proxies otherwise buffer the response and hold events back.
    (b"x-accel-buffering", b"no"),
]


class AuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def cors_headers(scope: dict[str, Any]) -> Headers:
    """Access-Control headers for the request's Origin, per SIDEKICK_CORS_ORIGINS."""
    origin = _header(scope, b"origin")
    allowed = list(settings.SIDEKICK_CORS_ORIGINS)
    if origin is None:
        return []
    if "*" in allowed:
        return [(b"access-control-allow-origin", b"*")]
    if origin in allowed:
        return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
    return []


def authenticate_stream(scope: dict[str, Any]) -> Any:
    """The principal opening the stream: any role by Bearer header, a client key by `?sdk_key=`.

    Raises AuthError(401) for missing or wrong credentials and AuthError(403) for a valid key that
    may not be used this way.
    """
    from flags import api_keys

    authorization = _header(scope, b"authorization")
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    query_key = query["sdk_key"][0] if query.get("sdk_key") else None
    close_old_connections()
    try:
        if authorization is not None:
            scheme, _, raw = authorization.partition(" ")
            if scheme.lower() != "bearer" or not raw.strip():
                raise AuthError(401, "Authorization must be 'Bearer <key>'.")
            principal = api_keys.authenticate_bearer(raw.strip())
            if principal is None:
                raise AuthError(401, "Invalid API key.")
            return principal
        if query_key:
            principal = api_keys.authenticate_query_key(query_key)
            if principal is not None:
                return principal
            if api_keys.authenticate_bearer(query_key) is not None:
                # A real key, but URLs end up in logs: only client keys are accepted there.
                raise AuthError(403, "Only client keys may be passed as ?sdk_key=.")
            raise AuthError(401, "Invalid API key.")
        if not api_keys.auth_enabled():
            return None
        raise AuthError(401, "Authentication credentials were not provided.")
    finally:
        close_old_connections()


class StreamConsumer(AsyncConsumer):
    # No per-connection channel-layer channel (see the module docstring): an alias that names
    # no configured layer makes Channels skip creating one.
    channel_layer_alias = "sidekick-stream-uses-the-hub"

    subscriber: StreamSubscriber | None = None

    async def http_request(self, message: dict[str, Any]) -> None:
        if message.get("more_body"):
            return  # a GET has no body worth reading; wait for its end
        method = self.scope.get("method", "GET")
        if method == "OPTIONS":
            await self._preflight()
            return
        if method != "GET":
            await self._error(405, "Method not allowed.", [(b"allow", b"GET, OPTIONS")])
            return
        try:
            await sync_to_async(authenticate_stream)(self.scope)
        except AuthError as error:
            extra: Headers = [(b"www-authenticate", b"Bearer")] if error.status == 401 else []
            await self._error(error.status, error.detail, extra)
            return
        except Exception:
            # Database keys cannot be checked (database unreachable); streams already open go on.
            logger.exception("stream authentication failed")
            await self._error(503, "Cannot check the API key right now; retry shortly.")
            return
        hub = update_hub()
        await hub.ensure_started()
        self.subscriber = hub.subscribe(self._send_chunk)
        snapshot = process_flag_store().encoded_snapshot()
        await self.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": STREAM_HEADERS + cors_headers(self.scope),
            }
        )
        await self.subscriber.open(snapshot)

    async def _send_chunk(self, chunk: bytes) -> None:
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        if self.subscriber is not None:
            update_hub().unsubscribe(self.subscriber)
            self.subscriber = None
        raise StopConsumer()

    async def _preflight(self) -> None:
        headers = cors_headers(self.scope)
        if headers:
            headers += [
                (b"access-control-allow-methods", b"GET, OPTIONS"),
                (b"access-control-allow-headers", b"Authorization, Cache-Control, Last-Event-ID"),
                (b"access-control-max-age", b"86400"),
            ]
        await self._respond(204, b"", headers)

    async def _error(self, status: int, detail: str, extra: Headers | None = None) -> None:
        body = encode_json({"detail": detail, "errors": {}}).encode()
        headers = [(b"content-type", b"application/json"), *(extra or [])]
        await self._respond(status, body, headers + cors_headers(self.scope))

    async def _respond(self, status: int, body: bytes, headers: Headers) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})
        raise StopConsumer()
