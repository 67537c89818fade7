"""The request body parser: JSON only, at most 1 MiB, strict (no NaN, no duplicate keys)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than 1 MiB."
    default_code = "request_too_large"


class _Refused(ValueError):
    """A JSON document this parser refuses on purpose; its message is written for the client."""


def _reject_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON.")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _Refused(f"The field {name!r} appears twice in one object.")
        result[name] = value
    return result


def _client_message(error: Exception) -> str:
    """What went wrong, in the client's terms: never the interpreter's own wording."""
    if isinstance(error, _Refused):
        return str(error)
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno}, column {error.colno}."
    if isinstance(error, UnicodeDecodeError):
        return f"The body is not UTF-8 text (byte {error.start})."
    if isinstance(error, RecursionError):
        return "The body nests arrays or objects too deeply."
    # The one other ValueError json.loads raises: an integer too long to convert.
    return "The body holds a number too long to read."


class ExactContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except that a wildcard Content-Type (`*/*`) names no parser.

    A body's type is a fact about the body, not a preference: `*/*` would otherwise match the
    JSON parser and be read as JSON.
    """

    def select_parser(self, request: Any, parsers: Iterable[BaseParser]) -> BaseParser | None:
        if "*" in (request.content_type or "").split(";", 1)[0]:
            return None
        return super().select_parser(request, parsers)


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # DRF hands over the raw request stream, which Django does not cap: read one byte past it.
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge()
        try:
            value = json.loads(
                body.decode("utf-8"),
                parse_constant=_reject_constant,
                object_pairs_hook=_object_without_duplicates,
            )
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise exceptions.ParseError(
                f"The body is not valid JSON: {_client_message(error)}"
            ) from error
        _require_unicode_text(value)
        return value


def _require_unicode_text(value: Any) -> None:
    """Refuses lone surrogate escapes such as `"\\ud800"`: valid JSON syntax, but not text.

    No database, response encoder or hash accepts them, so the body is refused here, once, for
    every endpoint, rather than failing later as a 500.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise exceptions.ParseError(
            "The body holds a lone surrogate escape (\\ud800-\\udfff), which is not text."
        ) from error
