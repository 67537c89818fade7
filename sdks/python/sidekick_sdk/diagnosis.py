"""Names the cause of a failed stream connection in words a user can act on.

httpx reports a failure as one of its own exceptions wrapping the socket or TLS error, and a
wrong base URL only shows as a 404 on `<url>/stream`. The client logs and raises these sentences
instead: "connection refused by host:port", "TLS handshake failed: is the server plain HTTP?",
"base URL must be the server root, not …/api".
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}
# Long enough for a local or LAN server to answer a HEAD; the probe only runs after a failure.
PROBE_TIMEOUT = 2.0


def _address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 80)


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """The error and everything it was raised from (httpx wraps socket and ssl errors)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def server_root_of(base_url: str) -> str | None:
    """The server root when `base_url` wrongly ends in /api (the REST prefix), else None."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/api"):
        return None
    return urlunsplit(parts._replace(path=path[: -len("/api")], query="", fragment=""))


def describe_not_found(base_url: str, stream_url: str) -> str:
    root = server_root_of(base_url)
    if root is not None:
        return (
            f"base URL must be the server root, not {base_url.rstrip('/')}: use {root or '/'} "
            f"(GET {stream_url} answered HTTP 404)"
        )
    return (
        f"no Sidekick stream at {stream_url} (HTTP 404): the base URL must be the server root, "
        "where /stream and /api/ are served"
    )


def speaks_plain_http(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether host:port answers a plain-text HTTP request (so TLS there cannot work)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as probe:
            probe.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii", "replace"))
            return probe.recv(5) == b"HTTP/"
    except OSError:
        return False


def describe_failure(error: BaseException | None, base_url: str, connect_timeout: float) -> str:
    """One sentence naming why a connection attempt failed (`error` None: not finished yet)."""
    host, port = _address(base_url)
    where = f"{host}:{port}"
    chain = list(_chain(error))
    tls_error = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    in_handshake = tls_error is not None or isinstance(error, httpx.ConnectTimeout | type(None))
    if urlsplit(base_url).scheme == "https" and in_handshake and speaks_plain_http(host, port):
        return (
            f"TLS handshake failed: is the server plain HTTP? {where} answers plain HTTP, "
            f"so use http://{where}"
        )
    if isinstance(tls_error, ssl.SSLCertVerificationError):
        return f"TLS certificate of {where} rejected: {tls_error.verify_message or tls_error}"
    if tls_error is not None:
        return f"TLS handshake with {where} failed: {tls_error.reason or tls_error}"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"connection refused by {where}: is the server running and listening there?"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return f"cannot resolve the host name {host!r}"
    if error is None:
        return f"no answer from {where} yet (still connecting)"
    if isinstance(error, httpx.ConnectTimeout):
        return f"no connection to {where} within the connect timeout ({connect_timeout} s)"
    if isinstance(error, httpx.ReadTimeout):
        return f"{where} sent nothing within the read timeout: the stream went silent"
    return f"{type(error).__name__}: {error}"
