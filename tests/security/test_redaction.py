"""The access log's redaction of query keys (sidekick.server.redact_secrets)."""

from __future__ import annotations

import pytest

from sidekick.server import redact_secrets


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        ("GET /stream?sdk_key=sk_client_abc", "GET /stream?sdk_key=[redacted]"),
        ("/stream?a=1&sdk_key=sk_x&b=2", "/stream?a=1&sdk_key=[redacted]&b=2"),
        ("/stream?SDK_KEY=k1&sdk%5Fkey=k2", "/stream?SDK_KEY=[redacted]&sdk%5Fkey=[redacted]"),
        ("/stream?sdk_key=", "/stream?sdk_key=[redacted]"),
        ("/api/flags?page=2", "/api/flags?page=2"),
        ("/api/flags/sdk_key=value", "/api/flags/sdk_key=value"),
    ],
)
def test_query_keys_are_redacted_and_nothing_else(logged, expected):
    assert redact_secrets(logged) == expected
