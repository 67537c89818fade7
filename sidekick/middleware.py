"""The outermost ASGI layer: probes, one log line and metrics per request, a last-resort 500.

Every HTTP request passes here first (sidekick/asgi.py):

1. `/healthz`, `/readyz`, `/metrics` are answered here (sidekick/probes.py), before Django.
2. Everything else goes to the application; the response's status is watched on its way out.
3. When the response ends, one `sidekick.requests` log line is written (redacted by the log
   formatters) and the request is counted by route template, method and status. A `/stream`
   is logged when it ends, with its lifetime; its duration is left out of the histogram.
4. An exception that escapes the application before it started a response becomes a 500 (503
   when the database is unreachable) in the error shape under /api/ and /stream, a plain page
   elsewhere: never a traceback. `RouteLabelMiddleware` (Django) reports the matched route.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseBase

from sidekick import metrics, probes

logger = logging.getLogger("sidekick.requests")

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
OBSERVATION_KEY = "sidekick.observation"
STREAM_PATH = "/stream"
PROBE_ROUTES = ("/healthz", "/readyz", "/metrics")
UNMATCHED_ROUTE = "unmatched"


class Observation:
    """What is learnt about one request while it is served; shared with Django by the scope."""

    __slots__ = ("route", "status")

    def __init__(self) -> None:
        self.route: str | None = None
        self.status: int | None = None


def _client(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


def _target(scope: dict[str, Any]) -> str:
    """The request target as sent (path and query); the formatters redact its secrets."""
    path = scope.get("path", "")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _daphne_request(send: Any) -> Any:
    """The daphne request behind a server `send` (a partial of its reply method), or None."""
    args = getattr(send, "args", None)
    request = args[0] if isinstance(args, tuple) and len(args) == 1 else None
    return request if hasattr(request, "startedWriting") else None


def _status_sent_by_server(send: Any) -> int | None:
    request = _daphne_request(send)
    if request is None or not request.startedWriting:
        return None
    return int(request.code)


def _response_started(observation: Observation, send: Any) -> bool:
    return observation.status is not None or _status_sent_by_server(send) is not None


def _wants_json(path: str) -> bool:
    return path.startswith("/api/") or path == "/api" or path == STREAM_PATH


class OperationsMiddleware:
    def __init__(self, app: ASGIApp, *, start_components: Callable[[], Awaitable[None]]) -> None:
        self.app = app
        self.start_components = start_components

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observation = Observation()
        path = scope.get("path", "")

        async def watched_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                observation.status = int(message["status"])
            await send(message)

        # The fan-out writes a stream's events straight to its socket when the stream holds the
        # server's own `send` (streaming/direct_write.py): a stream gets it untouched, and its
        # status is read back from the server afterwards.
        app_send = send if path == STREAM_PATH else watched_send
        try:
            if path in PROBE_ROUTES:
                observation.route = path
                await self._probe(path, scope, watched_send)
            else:
                if path == STREAM_PATH:
                    observation.route = STREAM_PATH
                await self.app({**scope, OBSERVATION_KEY: observation}, receive, app_send)
        except Exception as error:
            if _response_started(observation, send):
                raise  # the response is under way; the server ends the connection
            logger.exception("unhandled error serving %s %s", scope.get("method"), path)
            await self._error_response(path, error, watched_send)
        finally:
            if observation.status is None:
                observation.status = _status_sent_by_server(send)
            self._record(scope, observation, time.perf_counter() - started)

    async def _probe(self, path: str, scope: dict[str, Any], send: Any) -> None:
        if path == "/healthz":
            await probes.healthz(send)
        elif path == "/readyz":
            await probes.readyz(send, self.start_components)
        else:
            await probes.metrics_endpoint(scope, send)

    async def _error_response(self, path: str, error: Exception, send: Any) -> None:
        unavailable = isinstance(error, DatabaseError)
        status = 503 if unavailable else 500
        detail = (
            "The database is unavailable. Retry later." if unavailable else "Internal server error."
        )
        headers = [(b"retry-after", b"5")] if unavailable else []
        if _wants_json(path):
            await probes.send_json(send, status, probes.error_document(detail), headers)
        else:
            body = f"{status} {detail}\n".encode()
            await probes.send_response(send, status, body, b"text/plain; charset=utf-8", headers)

    def _record(self, scope: dict[str, Any], observation: Observation, seconds: float) -> None:
        method = str(scope.get("method", "-"))
        status = observation.status or 0
        route = observation.route or UNMATCHED_ROUTE
        metrics.HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
        if route != STREAM_PATH:
            metrics.HTTP_REQUEST_DURATION.labels(route=route, method=method).observe(seconds)
        duration_ms = round(seconds * 1000, 1)
        logger.info(
            '%s "%s %s" %s %sms route=%s',
            _client(scope),
            method,
            _target(scope),
            status,
            duration_ms,
            route,
            extra={
                "client": _client(scope),
                "method": method,
                "target": _target(scope),
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
            },
        )


def route_label(request: HttpRequest) -> str:
    """The URL pattern a request matched, as a bounded label (`/api/flags/<str:key>`)."""
    match = request.resolver_match
    if match is None or not match.route or match.route in {"^.*$", ".*"}:
        return UNMATCHED_ROUTE
    route = match.route
    if route.startswith("^"):
        route = route[1:].removesuffix("$")
    return "/" + route


class RouteLabelMiddleware:
    """Django middleware: tells the ASGI layer which route served the request.

    It also samples the database pool's gauges, here in the request's own thread, where the
    connection handler is already set up (each worker's gauges stay current between scrapes).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        observation = getattr(request, "scope", {}).get(OBSERVATION_KEY)
        if observation is not None:
            observation.route = route_label(request)
        metrics.sample_database_pool()
        return response
