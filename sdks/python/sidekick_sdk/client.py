"""`SidekickClient`: follows a Sidekick server's stream in a background thread, evaluates locally.

Every flag lives in a compiled `evalcore.FlagStore`; `is_enabled` never touches the network. The
stream thread connects to `GET /stream` (sending the last cursor as `Last-Event-ID`), feeds the
events to `StreamState` (stream_state.py: replay swap, resume, version-aware deltas) and, when the
connection ends, waits as `Backoff` says (full jitter, Retry-After, goodbye) before reconnecting;
meanwhile it keeps answering from the last-known flags. An optional file cache (cache.py) lets it
answer before the network does and resume from the cached cursor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal

import httpx

import evalcore
from sidekick_sdk.cache import FileCache, cache_owner
from sidekick_sdk.diagnosis import describe_failure, describe_not_found
from sidekick_sdk.sse import EventStreamParser
from sidekick_sdk.stream_state import Backoff, Outcome, StreamState, parse_retry_after

logger = logging.getLogger("sidekick_sdk")

FlagsChangedListener = Callable[[list[str]], None]
ChangeListener = Callable[[str], None]  # the deprecated per-key shape of `on_change`
ReadySource = Literal["server", "cache"]

DEFAULT_READ_TIMEOUT = 40.0  # more than two of the server's 15 s keep-alive periods
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_BACKOFF_INITIAL = 1.0
DEFAULT_BACKOFF_MAX = 30.0
CACHE_WRITE_INTERVAL = 1.0  # at most one cache write a second while flags change


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


class _Goodbye(Exception):
    """The server said goodbye: close this connection and reconnect when it asked."""


class SidekickClient:
    """A feature-flag client: `init()` once, then `is_enabled()` as often as you like."""

    def __init__(
        self,
        url: str,
        sdk_key: str | None = None,
        *,
        bootstrap: Iterable[Mapping[str, Any]] | None = None,
        on_flags_changed: FlagsChangedListener | None = None,
        on_change: ChangeListener | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        backoff_initial: float = DEFAULT_BACKOFF_INITIAL,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
    ) -> None:
        """`on_flags_changed(changed_keys)` is called with the keys each change touched;
        `on_change(key)` (deprecated, kept working) once per key. `cache_path` names a file that
        keeps the flags and the resume cursor between runs (see docs/python-sdk.md)."""
        self.url = url
        self.stream_url = url.rstrip("/") + "/stream"
        self._headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if sdk_key:
            self._headers["Authorization"] = f"Bearer {sdk_key}"
        self._timeout = httpx.Timeout(connect_timeout, read=read_timeout)
        self._connect_timeout = connect_timeout
        self._backoff = Backoff(
            initial_ms=round(backoff_initial * 1000), max_ms=round(backoff_max * 1000)
        )
        self._on_flags_changed = on_flags_changed
        self._on_change = on_change
        self._cache = (
            FileCache(cache_path, cache_owner(self.stream_url, sdk_key)) if cache_path else None
        )
        cached = self._cache.load() if self._cache is not None else None
        # The cache (newer, from this server) wins over the bootstrap list where both have a flag.
        self._state = StreamState(
            [*(cached.flags if cached else ()), *(bootstrap or ())],
            cached.cursor if cached else None,
            on_invalid_flag=_log_invalid_flag,
        )
        self._state_lock = threading.Lock()
        self._cache_timer: threading.Timer | None = None
        self._cache_written_at = 0.0
        self._condition = threading.Condition()
        self._ready_source: ReadySource | None = "cache" if cached is not None else None
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
        self._connected_since: float | None = None  # monotonic time the current stream opened
        self.connections = 0  # streams that reached `ready` or `resumed` (1 + reconnects)
        self.stopped_reason: str | None = None
        """Why the client stopped for good (an auth error, a revoked key), or None."""

    # Public surface ---------------------------------------------------------------------------

    def init(self, timeout: float = 10.0) -> ReadySource:
        """Starts the stream and blocks until the server's flags are in (or raises).

        Returns the readiness source: "server", or "cache" when a persistent cache was loaded and
        the server did not deliver within the timeout (the client answers from the cache and keeps
        connecting). Raises SidekickAuthError on 401/403, SidekickURLError at once when there is no
        stream at the URL (404: the base URL is not the server root), SidekickUnreachableError
        when no connection could be made in time, SidekickInitTimeout when connected but the
        replay did not finish in time; each message names the cause. Except after an auth error,
        the client keeps trying in the background either way.
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
                return "server"
            if self._ready_source == "cache":
                logger.warning("no flags from %s yet; answering from the cache", self.stream_url)
                return "cache"
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
        return self._state.store.is_enabled(flag, user_key, attributes)

    def evaluate(
        self, flag: str, user_key: str, attributes: Mapping[str, Any] | None = None
    ) -> evalcore.Evaluation:
        """The served value and variant with the reason (FLAG_NOT_FOUND, OFF, RULE_MATCH,
        ROLLOUT), matching rule, bucket and version."""
        return self._state.store.evaluate(flag, user_key, attributes)

    def get_boolean(
        self,
        flag: str,
        user_key: str,
        attributes: Mapping[str, Any] | None = None,
        default: bool = False,
    ) -> bool:
        """A boolean flag's answer, or default when it is missing or of another type."""
        return self._state.store.get_boolean(flag, user_key, attributes, default)

    def get_string(
        self,
        flag: str,
        user_key: str,
        attributes: Mapping[str, Any] | None = None,
        default: str = "",
    ) -> str:
        """A string flag's served value, or default when it is missing or of another type."""
        return self._state.store.get_string(flag, user_key, attributes, default)

    def get_number(
        self,
        flag: str,
        user_key: str,
        attributes: Mapping[str, Any] | None = None,
        default: float = 0,
    ) -> float:
        """A number flag's served value, or default when it is missing or of another type."""
        return self._state.store.get_number(flag, user_key, attributes, default)

    def get_json(
        self,
        flag: str,
        user_key: str,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> Any:
        """A json flag's served value, or default when it is missing or of another type."""
        return self._state.store.get_json(flag, user_key, attributes, default)

    def flags(self) -> list[dict[str, Any]]:
        """Every flag held now, in the wire format."""
        return list(self._state.store.flags())

    def get(self, key: str) -> dict[str, Any] | None:
        return self._state.store.get(key)

    @property
    def is_ready(self) -> bool:
        """Whether the client holds a flag set: the server's, or a persistent cache's."""
        return self._ready_source is not None

    @property
    def ready_source(self) -> ReadySource | None:
        """ "server" once the server's flags are in, "cache" while only a cache's are, else None."""
        return self._ready_source

    @property
    def cursor(self) -> str | None:
        """The resume cursor: the id of the last applied stream event that carried one."""
        return self._state.cursor

    @property
    def initialized(self) -> bool:
        """Whether the server's flags have been received at least once (see `ready_source`)."""
        return self._ready

    @property
    def connected(self) -> bool:
        """Whether the stream is open right now (flags are live, not last-known)."""
        return self._connected

    def close(self, timeout: float = 5.0) -> None:
        """Stops the stream thread and writes the cache; evaluations keep answering."""
        self._stop.set()
        sock = self._socket
        if sock is not None:
            # Wakes a read blocked in the stream thread; closing from here alone would not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        timer = self._cache_timer
        if timer is not None:
            timer.cancel()
        if self._ready:
            self._write_cache()

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
        with httpx.Client(timeout=self._timeout, headers=self._headers) as http:
            while not self._stop.is_set():
                try:
                    self._follow(http)
                except _Stop:
                    break
                except _Goodbye:
                    if self._state.stopped:
                        self.stopped_reason = "revoked"
                        logger.error("the server revoked this client's key; not reconnecting")
                        break
                except SidekickAuthError as error:
                    logger.error("%s; not retrying", error)
                    self.stopped_reason = str(error)
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
                    with self._state_lock:
                        self._state.disconnected()
                if self._connected_since is not None:
                    self._backoff.connection_lasted(
                        (time.monotonic() - self._connected_since) * 1000
                    )
                    self._connected_since = None
                if self._stop.wait(self._backoff.next_delay_ms() / 1000):
                    break

    def _follow(self, http: httpx.Client) -> None:
        headers = {}
        cursor = self._state.cursor
        if cursor is not None:
            headers["Last-Event-ID"] = cursor
        with http.stream("GET", self.stream_url, headers=headers) as response:
            with self._condition:
                self._answered = True
            if response.status_code in (401, 403):
                response.read()
                raise SidekickAuthError(response.status_code, _error_detail(response))
            if response.status_code == 404:
                raise SidekickURLError(describe_not_found(self.url, self.stream_url))
            if response.status_code != 200:
                response.read()
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if response.status_code in (429, 503) and retry_after is not None:
                    self._backoff.server_delay(retry_after)
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
            self._connected_since = time.monotonic()
            parser = EventStreamParser()
            for chunk in response.iter_bytes():
                for event in parser.feed(chunk):
                    if self._stop.is_set():
                        raise _Stop
                    with self._state_lock:
                        outcome = self._state.handle(event)
                    self._act_on(outcome)
        if self._stop.is_set():
            raise _Stop
        raise httpx.RemoteProtocolError("the server ended the stream")

    def _act_on(self, outcome: Outcome) -> None:
        if outcome.error is not None:
            logger.error("skipping a stream event: %s", outcome.error)
        if outcome.synced:
            self.connections += 1
            with self._condition:
                self._ready = True
                self._ready_source = "server"
                self._condition.notify_all()
        if outcome.changed_keys:
            self._notify(outcome.changed_keys)
        if outcome.synced or outcome.changed_keys:
            self._schedule_cache_write()
        if outcome.goodbye_reason is not None:
            logger.info("the server said goodbye: %s", outcome.goodbye_reason)
            if outcome.reconnect_after_ms is not None:
                self._backoff.server_delay(outcome.reconnect_after_ms)
            raise _Goodbye

    def _notify(self, keys: list[str]) -> None:
        if self._on_flags_changed is not None:
            try:
                self._on_flags_changed(list(keys))
            except Exception:
                logger.exception("on_flags_changed callback failed for %r", keys)
        if self._on_change is not None:
            for key in keys:
                try:
                    self._on_change(key)
                except Exception:
                    logger.exception("on_change callback failed for %r", key)

    # The persistent cache ---------------------------------------------------------------------

    def _schedule_cache_write(self) -> None:
        """Writes now, or once the throttle interval has passed since the last write."""
        if self._cache is None or self._cache_timer is not None:
            return
        wait = self._cache_written_at + CACHE_WRITE_INTERVAL - time.monotonic()
        if wait <= 0:
            self._write_cache()
            return
        timer = threading.Timer(wait, self._write_cache_from_timer)
        timer.daemon = True
        self._cache_timer = timer
        timer.start()

    def _write_cache_from_timer(self) -> None:
        self._cache_timer = None
        self._write_cache()

    def _write_cache(self) -> None:
        if self._cache is None:
            return
        with self._state_lock:
            flags, cursor = list(self._state.store.flags()), self._state.cursor
        self._cache_written_at = time.monotonic()
        try:
            self._cache.save(flags, cursor)
        except OSError as error:
            logger.warning("cannot write the flag cache %s: %s", self._cache.path, error)


def _log_invalid_flag(flag: Mapping[str, Any], error: ValueError) -> None:
    logger.error("ignoring invalid flag %r: %s", flag.get("key"), error)


def _error_detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]
