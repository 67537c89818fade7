"""A real HTTP listener that answers `GET /stream` from a script, one response per request.

For protocol behaviour the server in this tree does not produce yet (429 at a stream limit, ids,
`goodbye`): each request gets the next scripted (status, headers, body) and the listener records
when it came and its headers, so tests can assert what the SDK sent and how long it waited.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SeenRequest:
    at: float
    headers: dict[str, str]


class ScriptedStream:
    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.requests: list[SeenRequest] = []
        self.condition = threading.Condition()
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with script.condition:
                    index = len(script.requests)
                    script.requests.append(SeenRequest(time.monotonic(), dict(self.headers)))
                    script.condition.notify_all()
                reply = script.replies[min(index, len(script.replies) - 1)]
                body = reply.body.encode()
                self.send_response(reply.status)
                content_type = "text/event-stream" if reply.status == 200 else "application/json"
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedStream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for_requests(self, count: int, timeout: float) -> list[SeenRequest]:
        with self.condition:
            if not self.condition.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"{len(self.requests)} requests, expected {count}")
            return list(self.requests)


def replay(flags: list[str], cursor: str | None = None) -> str:
    """A full replay of flags with version 1, `ready` carrying the cursor when given."""
    events = ["event: connected\ndata: true\n\n"]
    for key in flags:
        flag = f'{{"key": "{key}", "is_enabled": true, "version": 1}}'
        events.append(f'event: update\ndata: {{"type": "UPSERT", "flag": {flag}}}\n\n')
    id_line = f"id: {cursor}\n" if cursor else ""
    events.append(f'event: ready\n{id_line}data: {{"flags": {len(flags)}}}\n\n')
    return "".join(events)
