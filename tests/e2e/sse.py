"""Test-side stream readers: a raw `/stream` recorder and helpers that wait on conditions."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx


def wait_until(
    condition: Callable[[], bool], timeout: float, message: str | Callable[[], str]
) -> None:
    """Polls `condition` until it holds; fails with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"not within {timeout} s: {text}")
        time.sleep(0.02)


class StreamRecorder:
    """Opens `/stream` on a thread and records every line and every event, in order."""

    def __init__(
        self,
        base_url: str,
        *,
        bearer: str | None = None,
        query_key: str | None = None,
        headers: dict[str, str] | None = None,
        read_timeout: float = 20.0,
        params: dict[str, str] | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/stream"
        self.params = {"sdk_key": query_key} if query_key else {}
        self.params.update(params or {})
        self.headers = dict(headers or {})
        if bearer:
            self.headers["Authorization"] = f"Bearer {bearer}"
        self.read_timeout = read_timeout
        self.lines: list[str] = []
        self.events: list[tuple[str, str]] = []
        self.status: int | None = None
        self.response_headers: httpx.Headers | None = None
        self.body: bytes = b""
        self.error: BaseException | None = None
        self._condition = threading.Condition()
        self._socket: socket.socket | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        timeout = httpx.Timeout(10.0, read=self.read_timeout)
        try:
            with httpx.stream(
                "GET", self.url, params=self.params, headers=self.headers, timeout=timeout
            ) as response:
                stream = response.extensions.get("network_stream")
                self._socket = stream.get_extra_info("socket") if stream else None
                with self._condition:
                    self.status = response.status_code
                    self.response_headers = response.headers
                    self._condition.notify_all()
                if response.status_code != 200:
                    self.body = response.read()
                    return
                event_name, data = "message", ""
                for line in response.iter_lines():
                    with self._condition:
                        self.lines.append(line)
                        if line.startswith("event: "):
                            event_name = line[len("event: ") :]
                        elif line.startswith("data: "):
                            data = line[len("data: ") :]
                        elif line == "" and data:
                            self.events.append((event_name, data))
                            event_name, data = "message", ""
                        self._condition.notify_all()
        except BaseException as error:  # recorded for the test to inspect, never swallowed
            if not self._closed:
                self.error = error
        finally:
            with self._condition:
                self._closed = True
                self._condition.notify_all()

    def wait_for(self, condition: Callable[[StreamRecorder], bool], timeout: float = 10.0) -> None:
        with self._condition:
            if not self._condition.wait_for(lambda: condition(self) or self._closed, timeout):
                raise AssertionError(
                    f"stream condition not met in {timeout} s; events={self.events[-5:]}"
                )
            if not condition(self):
                raise AssertionError(
                    f"stream ended (status {self.status}, {self.error!r}) before the condition"
                )

    def wait_for_status(self, timeout: float = 10.0) -> int:
        self.wait_for(lambda rec: rec.status is not None, timeout)
        assert self.status is not None
        return self.status

    def wait_closed(self, timeout: float = 10.0) -> None:
        """Waits until the server ends the response (or the connection drops)."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._closed, timeout):
                raise AssertionError(f"stream still open after {timeout} s")

    @property
    def closed(self) -> bool:
        return self._closed

    def updates(self) -> list[dict[str, Any]]:
        return [json.loads(data) for name, data in self.events if name == "update"]

    def event_names(self) -> list[str]:
        return [name for name, _ in self.events]

    def ready(self) -> bool:
        return "ready" in self.event_names()

    def close(self) -> None:
        self._closed = True
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(5.0)

    def __enter__(self) -> StreamRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
