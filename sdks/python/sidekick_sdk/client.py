"""`SidekickClient`: follows a Sidekick server's stream in a background thread, evaluates locally.

Every flag lives in a compiled `evalcore.FlagStore`; `is_enabled` never touches the network. The
stream thread connects to `GET /stream`, rebuilds a fresh store from the replay (between
`connected` and `ready`) and swaps it in whole, so evaluations never see a half-loaded set, then
applies live deltas by version. When the connection drops it keeps the last-known flags and
reconnects with capped, jittered exponential back-off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, connect_sse

import evalcore
from sidekick_sdk.diagnosis import describe_failure, describe_not_found

logger = logging.getLogger("sidekick_sdk")

ChangeListener = Callable[[str], None]

DEFAULT_READ_TIMEOUT = 40.0  # more than two of the server's 15 s keep-alive periods
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_BACKOFF_INITIAL = 0.5
DEFAULT_BACKOFF_MAX = 30.0


class SidekickError(Exception):
    """Base class of the SDK's errors."""


class SidekickAuthError(SidekickError):
    """The server refused the key: 401 (unknown key) or 403 (a key not allowed on the stream)."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"stream refused with HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class SidekickUnreachableError(SidekickError):
    """No connection to the server could be made before init's timeout; the message says why."""


class SidekickURLError(SidekickError):
    """The URL answered, but no stream is there (HTTP 404): the base URL is not the server root."""

    def __init__(self, message: str, status_code: int = 404) -> None:
        super().__init__(message)
        self.status_code = status_code


class SidekickInitTimeout(SidekickError, TimeoutError):
    """The server answered but the flag replay did not complete before init's timeout."""


class _Stop(Exception):
    """Raised inside the stream thread when close() asks it to end."""


class SidekickClient:
    """A feature-flag client: `init()` once, then `is_enabled()` as often as you like."""

    def __init__(
        self,
        url: str,
        sdk_key: str | None = None,
        *,
        bootstrap: Iterable[Mapping[str, Any]] | None = None,
        on_change: ChangeListener | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        backoff_initial: float = DEFAULT_BACKOFF_INITIAL,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
    ) -> None:
        self.url = url
        self.stream_url = url.rstrip("/") + "/stream"
        self._headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if sdk_key:
            self._headers["Authorization"] = f"Bearer {sdk_key}"
        self._timeout = httpx.Timeout(connect_timeout, read=read_timeout)
        self._connect_timeout = connect_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._on_change = on_change
        self._store = evalcore.FlagStore()
        for flag in bootstrap or ():
            self._store.upsert(flag)
        self._staging: evalcore.FlagStore | None = None
        self._condition = threading.Condition()
        self._ready = False
        self._answered = False
        self._connected = False
        self._fatal: SidekickAuthError | None = None
        self._url_error: SidekickURLError | None = None
        self._last_error: BaseException | None = None
        self._last_cause: str | None = None  # the last failure, in words (diagnosis module)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._ready_on_this_stream = False
        self.connections = 0  # streams that reached `ready` (1 + reconnects)

    # Public surface ---------------------------------------------------------------------------

    def init(self, timeout: float = 10.0) -> None:
        """Starts the stream and blocks until the first full replay (or raises).

        Raises SidekickAuthError on 401/403, SidekickURLError at once when there is no stream at
        the URL (404: the base URL is not the server root), SidekickUnreachableError when no
        connection could be made in time, SidekickInitTimeout when connected but the replay did
        not finish in time; each message names the cause. Except after an auth error, the client
        keeps trying in the background either way.
        """
        self.start()
        with self._condition:
            self._condition.wait_for(
                lambda: self._ready or self._fatal is not None or self._url_error is not None,
                timeout,
            )
            if self._fatal is not None:
                raise self._fatal
            if self._ready:
                return
            if self._url_error is not None:
                raise self._url_error
            answered, cause = self._answered, self._last_cause
        if not answered:
            # No attempt has failed yet (a TLS handshake to a plain-HTTP port can hang until the
            # connect timeout): diagnose now rather than report nothing.
            cause = cause or describe_failure(None, self.url, self._connect_timeout)
            raise SidekickUnreachableError(
                f"cannot reach {self.stream_url} within {timeout} s: {cause}"
            )
        last = f"; last failure: {cause}" if cause else ""
        raise SidekickInitTimeout(
            f"no complete flag replay from {self.stream_url} in {timeout} s{last}"
        )

    def start(self) -> None:
        """Starts the background stream without waiting (init() calls it)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sidekick-stream", daemon=True)
            self._thread.start()

    def is_enabled(
        self, flag: str, user_key: str, attributes: Mapping[str, Any] | None = None
    ) -> bool:
        """Whether the flag is on for this user; false for an unknown flag. No network call."""
        return self._store.is_enabled(flag, user_key, attributes)

    def evaluate(
        self, flag: str, user_key: str, attributes: Mapping[str, Any] | None = None
    ) -> evalcore.Evaluation:
        """The served value and variant with the reason (FLAG_NOT_FOUND, OFF, RULE_MATCH,
        ROLLOUT), matching rule, bucket and version."""
        return self._store.evaluate(flag, user_key, attributes)

    def get_boolean(
        self,
        flag: str,
        user_key: str,
        attributes: Mapping[str, Any] | None = None,
        default: bool = False,
    ) -> bool:
        """A boolean flag's answer, or default when it is missing or of another type."""
        return self._store.get_boolean(flag, user_key, attributes, default)

    def get_string(
        self,
        flag: str,
        user_key: str,
        attributes: Mapping[str, Any] | None = None,
        default: str = "",
    ) -> str:
        """A string flag's served value, or default when it is missing or of another type."""
        return self._store.get_string(flag, user_key, attributes, default)

    def get_number(
        self,
        flag: str,
        user_key: str,
        attributes: Mapping[str, Any] | None = None,
        default: float = 0,
    ) -> float:
        """A number flag's served value, or default when it is missing or of another type."""
        return self._store.get_number(flag, user_key, attributes, default)

    def get_json(
        self,
        flag: str,
        user_key: str,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> Any:
        """A json flag's served value, or default when it is missing or of another type."""
        return self._store.get_json(flag, user_key, attributes, default)

    def flags(self) -> list[dict[str, Any]]:
        """Every flag held now, in the wire format."""
        return list(self._store.flags())

    def get(self, key: str) -> dict[str, Any] | None:
        return self._store.get(key)

    @property
    def initialized(self) -> bool:
        """Whether a full replay has been received at least once."""
        return self._ready

    @property
    def connected(self) -> bool:
        """Whether the stream is open right now (flags are live, not last-known)."""
        return self._connected

    def close(self, timeout: float = 5.0) -> None:
        """Stops the stream thread; evaluations keep answering from the last-known flags."""
        self._stop.set()
        sock = self._socket
        if sock is not None:
            # Wakes a read blocked in the stream thread; closing from here alone would not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> SidekickClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # The stream thread ------------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        with httpx.Client(timeout=self._timeout, headers=self._headers) as http:
            while not self._stop.is_set():
                try:
                    self._follow(http)
                except _Stop:
                    break
                except SidekickAuthError as error:
                    logger.error("%s; not retrying", error)
                    with self._condition:
                        self._fatal = error
                        self._condition.notify_all()
                    break
                except SidekickURLError as error:
                    logger.error("%s", error)
                    with self._condition:
                        self._url_error = error
                        self._last_error = error
                        self._last_cause = str(error)
                        self._condition.notify_all()
                except (httpx.HTTPError, OSError, ValueError) as error:
                    if self._stop.is_set():
                        break
                    cause = describe_failure(error, self.url, self._connect_timeout)
                    logger.warning("stream to %s failed: %s", self.stream_url, cause)
                    with self._condition:
                        self._last_error = error
                        self._last_cause = cause
                        self._condition.notify_all()
                finally:
                    self._connected = False
                    self._socket = None
                    self._staging = None
                # A stream that got as far as `ready` was healthy: start the back-off over.
                attempt = 0 if self._ready_on_this_stream else attempt + 1
                if self._stop.wait(self._backoff_delay(attempt)):
                    break

    def _backoff_delay(self, attempt: int) -> float:
        """Exponential, capped, with half of it random so that clients spread out."""
        ceiling = min(self._backoff_max, self._backoff_initial * (2 ** min(attempt, 30)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _follow(self, http: httpx.Client) -> None:
        self._ready_on_this_stream = False
        with connect_sse(http, "GET", self.stream_url) as source:
            response = source.response
            with self._condition:
                self._answered = True
            if response.status_code in (401, 403):
                response.read()
                raise SidekickAuthError(response.status_code, _error_detail(response))
            if response.status_code == 404:
                raise SidekickURLError(describe_not_found(self.url, self.stream_url))
            if response.status_code != 200:
                response.read()
                raise httpx.HTTPStatusError(
                    f"stream answered HTTP {response.status_code}: {_error_detail(response)}",
                    request=response.request,
                    response=response,
                )
            stream = response.extensions.get("network_stream")
            self._socket = stream.get_extra_info("socket") if stream is not None else None
            if self._stop.is_set():
                raise _Stop
            self._connected = True
            for event in source.iter_sse():
                if self._stop.is_set():
                    raise _Stop
                self._handle(event)
        if self._stop.is_set():
            raise _Stop
        raise httpx.RemoteProtocolError("the server ended the stream")

    def _handle(self, event: ServerSentEvent) -> None:
        if event.event == "connected":
            # Re-bootstrap: collect the replay aside; the live store keeps answering meanwhile.
            self._staging = evalcore.FlagStore()
        elif event.event == "update":
            self._apply(json.loads(event.data))
        elif event.event == "ready":
            self._finish_replay()

    def _apply(self, change: Mapping[str, Any]) -> None:
        target = self._staging if self._staging is not None else self._store
        kind = change.get("type")
        if kind == "UPSERT":
            flag = change["flag"]
            try:
                applied = target.upsert(flag)
            except ValueError as error:
                logger.error("ignoring invalid flag %r: %s", flag.get("key"), error)
                return
            key = str(flag["key"])
        elif kind == "DELETE":
            key = str(change["key"])
            applied = target.delete(key, int(change.get("version") or 0))
        else:
            return  # a change type from a newer server: ignore it (forward compatibility)
        if applied and target is self._store:
            self._notify([key])

    def _finish_replay(self) -> None:
        fresh = self._staging
        if fresh is None:
            return
        previous = self._store
        self._store = fresh
        self._staging = None
        self._ready_on_this_stream = True
        self.connections += 1
        with self._condition:
            self._ready = True
            self._condition.notify_all()
        self._notify(_changed_keys(previous, fresh))

    def _notify(self, keys: Iterable[str]) -> None:
        if self._on_change is None:
            return
        for key in keys:
            try:
                self._on_change(key)
            except Exception:
                logger.exception("on_change callback failed for %r", key)


def _changed_keys(before: evalcore.FlagStore, after: evalcore.FlagStore) -> list[str]:
    old = {flag["key"]: flag for flag in before.flags()}
    new = {flag["key"]: flag for flag in after.flags()}
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def _error_detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]
