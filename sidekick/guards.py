"""ASGI middleware around the whole application, /stream included (Django checks views only).

- ALLOWED_HOSTS applies to every request: a foreign Host gets 400 in the API's error shape.
- With authentication turned off for development (SIDEKICK_AUTH_DISABLED), every response says
  so in `X-Sidekick-Auth: disabled`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger("sidekick.security")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

AUTH_HEADER = (b"x-sidekick-auth", b"disabled")


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return bytes(value).decode("latin-1")
    server = scope.get("server") or ("", None)
    return str(server[0] or "")


def _allowed_hosts() -> list[str]:
    # As Django's HttpRequest.get_host: debug with no list allows the local names only.
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return allowed


def host_is_allowed(host: str) -> bool:
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, _allowed_hosts())


class ExposureGuard:
    """Applies ALLOWED_HOSTS to every HTTP request and marks responses when auth is off."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        host = _host(scope)
        if not host_is_allowed(host):
            logger.warning("refused a request for host %r (not in ALLOWED_HOSTS)", host[:200])
            await _send_error(send, 400, "The Host header names a host this server does not serve.")
            return
        if settings.SIDEKICK_AUTH_DISABLED:
            send = _marking_auth_disabled(send)
        await self.app(scope, receive, send)


def _marking_auth_disabled(send: Send) -> Send:
    async def marked(message: dict[str, Any]) -> None:
        if message.get("type") == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), AUTH_HEADER]}
        await send(message)

    return marked


async def _send_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail, "errors": {}}).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
