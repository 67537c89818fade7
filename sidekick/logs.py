"""Log output: one line per record, as text or JSON, with every secret redacted.

`redact_secrets(text)` is the one redaction rule, reusable by anything that writes a log line
outside Python's logging (a server's own access log): a value after `sdk_key=` (and the other
credential-like query parameters), the credential after `Bearer`/`Token`, and the secret part of
any API key in Sidekick's format (`sk_<role>_<prefix><secret>` keeps its visible prefix, which
the admin shows anyway). The formatters apply it to the finished line — message, fields and
traceback alike — so no code path can forget it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"

# Query or form parameters whose value is a credential. `sdk_key` is the one /stream accepts.
_SECRET_PARAMETER = re.compile(
    r"(?i)\b(sdk_key|api_key|apikey|access_token|token|password|secret)=([^&\s\"'\\#;,]+)"
)
# An Authorization header's credential, wherever a header ended up in a message.
_AUTHORIZATION = re.compile(r"(?i)\b(bearer|token)(\s+)[A-Za-z0-9._~+/=-]{4,}")
# Sidekick API keys: `sk_<role>_` + 8 visible characters + the secret remainder.
_API_KEY = re.compile(r"\b(sk_(?:admin|server|client)_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]+")


def redact_secrets(text: str) -> str:
    """`text` with every credential it contains replaced by `[redacted]`."""
    text = _SECRET_PARAMETER.sub(rf"\1={REDACTED}", text)
    text = _AUTHORIZATION.sub(rf"\1\2{REDACTED}", text)
    return _API_KEY.sub(rf"\1{REDACTED}", text)


# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a caller passed with `extra=`."""
    return {
        name: value
        for name, value in record.__dict__.items()
        if name not in _STANDARD_ATTRIBUTES and not name.startswith("_")
    }


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`2026-01-31T12:00:00.000Z INFO logger message`, then the traceback if any; redacted."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name} {record.getMessage()}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        elif record.exc_text:
            line = f"{line}\n{record.exc_text}"
        return redact_secrets(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the `extra=` fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(record_fields(record))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return redact_secrets(json.dumps(document, default=str, ensure_ascii=False))


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING setting: every logger's records through one redacting handler on stderr."""
    formatter = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"()": TextFormatter},
            "json": {"()": JsonFormatter},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": formatter}},
        # One handler on the root: daphne's, Django's and the apps' records all pass through it.
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {
            # Django's default config prints to its own handler in debug; route it here instead.
            "django": {"handlers": [], "level": "INFO"},
            "axes": {"level": "INFO"},
            "daphne": {"level": "INFO"},
            **{name: {"level": level} for name in ("sidekick", "flags", "streaming")},
        },
    }
