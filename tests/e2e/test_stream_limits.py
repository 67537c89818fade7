"""Stream limits under a real daphne: per key and per process, 429 before any snapshot byte."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.sse import StreamRecorder, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PER_PROCESS = 4
PER_KEY = 3
RETRY_AFTER = 7


def _refused_with_429(stream: StreamRecorder) -> None:
    assert stream.wait_for_status() == 429
    stream.wait_closed()
    assert stream.response_headers is not None
    assert stream.response_headers["retry-after"] == str(RETRY_AFTER)
    assert stream.response_headers["content-type"] == "application/json"
    body = httpx.Response(429, content=stream.body).json()
    assert set(body) == {"detail", "errors"}
    assert body["errors"] == {}
    assert "stream" in body["detail"]
    assert b"event:" not in stream.body


def test_streams_over_the_limits_get_429_with_retry_after_and_rest_still_answers(
    make_server_group,
):
    group = make_server_group(
        extra_env={
            "SIDEKICK_STREAMS_PER_PROCESS": str(PER_PROCESS),
            "SIDEKICK_STREAMS_PER_KEY": str(PER_KEY),
            "SIDEKICK_STREAM_LIMIT_RETRY_AFTER_SECONDS": str(RETRY_AFTER),
        }
    )
    server = group.add_server()
    opened: list[StreamRecorder] = []
    try:
        # One key up to its own limit.
        for _ in range(PER_KEY):
            stream = StreamRecorder(server.url, query_key=group.client_key)
            opened.append(stream)
            stream.wait_for(StreamRecorder.ready)
        over_key = StreamRecorder(server.url, query_key=group.client_key)
        _refused_with_429(over_key)
        assert "key" in httpx.Response(429, content=over_key.body).json()["detail"]

        # Another key takes the process's last slot; then every key is refused.
        last = StreamRecorder(server.url, bearer=group.server_key)
        opened.append(last)
        last.wait_for(StreamRecorder.ready)
        over_process = StreamRecorder(server.url, bearer=group.admin_key)
        _refused_with_429(over_process)
        assert "process" in httpx.Response(429, content=over_process.body).json()["detail"]

        # REST is still served while every stream slot is taken.
        headers = {"Authorization": f"Bearer {group.admin_key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=15) as client:
            assert client.get("/api/flags").status_code == 200
            # client_side: the client-key streams read the client view, which shows only those.
            created = client.post("/api/flags", json={"key": "limits_rest", "client_side": True})
            assert created.status_code == 201
        # The open streams still follow changes.
        for stream in opened:
            stream.wait_for(
                lambda rec: any(u["flag"]["key"] == "limits_rest" for u in rec.updates())
            )

        # Closing a stream frees its slot (the server learns of it from the disconnect).
        opened.pop(0).close()
        retried: list[StreamRecorder] = []

        def a_new_stream_is_accepted() -> bool:
            stream = StreamRecorder(server.url, query_key=group.client_key)
            retried.append(stream)
            return stream.wait_for_status() == 200

        wait_until(a_new_stream_is_accepted, 10, "a closed stream's slot was never freed")
        accepted = retried[-1]
        accepted.wait_for(StreamRecorder.ready)
        opened.extend(retried)
    finally:
        for stream in opened:
            stream.close()
