"""`GET /stream`: the Server-Sent Events consumer that bootstraps an SDK and forwards every change.

A Channels async consumer speaking the ASGI HTTP protocol directly: `http.request` authenticates,
subscribes the connection to the process's hub (before the snapshot is read, so no change can
fall between them), writes the shared snapshot bytes of its audience (a client key's stream
reads the client view, `streaming.protocol.ClientView`) and returns — the consumer keeps running
until `http.disconnect`, which unsubscribes it. (Channels' AsyncHttpConsumer cannot do this: it
ends the response when `handle()` returns and cannot see a disconnect while `handle()` runs.)

The connection has no channel-layer channel of its own: changes are fanned out to it by the hub
(`streaming.hub`), whose relay holds the process's one group subscription, so a change costs one
Redis message per process.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from flags import api_keys
from flags.exceptions import ResourceNotFound
from flags.models import ApiKeyRole
from flags.scopes import environment_by_path
from flags.store import environment_stores, process_flag_store
from flags.wire import encode_json
from streaming.fanout import StreamSubscriber
from streaming.hub import update_hub
from streaming.limits import Refusal

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


class VerifiedKeys:
    """Keys that recently opened a stream, so reconnect storms do not each cost a database read.

    Every SDK reconnects at once after a deploy or a network blip; without this each of them is
    a key lookup (and, with CONN_MAX_AGE=0, a new database connection). A key verified less than
    FRESH_SECONDS ago is accepted again without asking the database, unless this process has heard
    of its revocation (then it is refused at once; an instance that missed the relay refuses it
    after at most FRESH_SECONDS). While the database is unreachable, a key verified less than
    STALE_SECONDS ago is still accepted: streams keep serving through the outage.
    """

    FRESH_SECONDS = 10.0
    STALE_SECONDS = 600.0
    MAX_ENTRIES = 100_000

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def fingerprint(kind: str, raw_key: str) -> bytes:
        return hashlib.sha256(f"{kind}:{raw_key}".encode()).digest()

    def get(self, fingerprint: bytes, max_age: float) -> tuple[bool, Any]:
        entry = self._entries.get(fingerprint)
        if entry is None or time.monotonic() - entry[0] > max_age:
            return False, None
        return True, entry[1]

    def remember(self, fingerprint: bytes, principal: Any) -> None:
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[fingerprint] = (time.monotonic(), principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


verified_keys = VerifiedKeys()


def authenticate_stream(scope: dict[str, Any]) -> Any:
    """The principal opening the stream, through the recently-verified keys when possible."""
    authorization = _header(scope, b"authorization")
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    query_key = query["sdk_key"][0] if query.get("sdk_key") else None
    if authorization is not None:
        fingerprint = VerifiedKeys.fingerprint("header", authorization)
    elif query_key:
        fingerprint = VerifiedKeys.fingerprint("query", query_key)
    else:
        fingerprint = None
    if fingerprint is not None:
        known, principal = verified_keys.get(fingerprint, VerifiedKeys.FRESH_SECONDS)
        if known and not _revoked(principal):
            return principal
    try:
        principal = check_stream_credentials(authorization, query_key)
    except DatabaseError:
        if fingerprint is not None:
            known, principal = verified_keys.get(fingerprint, VerifiedKeys.STALE_SECONDS)
            if known and not _revoked(principal):
                return principal
        raise
    if fingerprint is not None:
        verified_keys.remember(fingerprint, principal)
    return principal


def _revoked(principal: Any) -> bool:
    """Whether a remembered principal's key was revoked since (as this process has heard)."""
    return getattr(principal, "key_id", None) in update_hub().streams.revoked_key_ids


def check_stream_credentials(authorization: str | None, query_key: str | None) -> Any:
    """Any role by Bearer header, a client key by `?sdk_key=`; asks the database.

    Raises AuthError(401) for missing or wrong credentials and AuthError(403) for a valid key that
    may not be used this way.
    """
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


def stream_environment(scope: dict[str, Any], principal: Any) -> int:
    """The id of the one environment this stream serves.

    A server or client key's own; for keys that reach every environment (admin, SDK_KEY, auth
    off), `?environment=<project>/<environment>` or SIDEKICK_DEFAULT_ENVIRONMENT. A bound key
    naming another environment gets 403 (the path exists; nothing of the other is shown).
    """
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    wanted = query["environment"][0] if query.get("environment") else None
    bound = getattr(principal, "environment_id", None)
    close_old_connections()
    try:
        named = environment_by_path(wanted).pk if wanted is not None else None
    except ResourceNotFound as error:
        if bound is not None:
            raise AuthError(403, "This key is bound to another environment.") from error
        raise AuthError(404, error.detail) from error
    finally:
        close_old_connections()
    if bound is not None:
        if named is not None and named != bound:
            raise AuthError(403, "This key is bound to another environment.")
        return int(bound)
    if named is not None:
        return named
    close_old_connections()
    try:
        return environment_stores().default_id()
    finally:
        close_old_connections()


def _loaded_snapshot(streams: Any, subscriber: StreamSubscriber, store: Any) -> bytes:
    close_old_connections()
    try:
        return bytes(streams.snapshot_for(subscriber, store))
    finally:
        close_old_connections()


def reads_client_view(principal: Any) -> bool:
    """Client keys are public (they sit in web pages): their streams get the client view."""
    return getattr(principal, "role", None) == ApiKeyRole.CLIENT


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
            # Off the shared sync thread: a burst of reconnects checks keys in parallel.
            principal = await sync_to_async(authenticate_stream, thread_sensitive=False)(self.scope)
            environment_id = await sync_to_async(stream_environment, thread_sensitive=False)(
                self.scope, principal
            )
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
        streams = hub.streams
        subscribed = streams.subscribe(
            self.base_send,
            getattr(principal, "key_id", None),
            client=reads_client_view(principal),
            environment_id=environment_id,
        )
        if isinstance(subscribed, Refusal):
            retry_after = str(subscribed.retry_after).encode()
            await self._error(429, subscribed.detail, [(b"retry-after", retry_after)])
            return
        self.subscriber = subscribed
        try:
            store = process_flag_store(environment_id)
            if store.is_loaded:
                snapshot = streams.snapshot_for(self.subscriber, store)
            else:  # first use of this environment here: it loads from the database
                snapshot = await sync_to_async(_loaded_snapshot, thread_sensitive=False)(
                    streams, self.subscriber, store
                )
            await self.send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": STREAM_HEADERS + cors_headers(self.scope),
                }
            )
            await self.subscriber.open(snapshot)
            if await streams.opened(self.subscriber):
                hub.stream_opened()
        except BaseException:
            # The consumer ends here and will never see its disconnect: unsubscribe now.
            streams.unsubscribe(self.subscriber, "error")
            self.subscriber = None
            raise

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        if self.subscriber is not None:
            update_hub().streams.unsubscribe(self.subscriber)
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
