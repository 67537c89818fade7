"""The one REST exception handler: every error becomes {"detail": ..., "errors": {path: [msg]}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from flags.exceptions import (
    Conflict,
    FlagNotFound,
    FlagValidationError,
    ResourceNotFound,
    VersionMismatch,
)

logger = logging.getLogger("flags")


def error_body(detail: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "errors": errors or {}}


def error_json_response(status_code: int, detail: str) -> JsonResponse:
    """The error shape for plain Django views (unknown /api/ paths)."""
    return JsonResponse(error_body(detail), status=status_code)


def _flatten(detail: Any, path: str, into: dict[str, list[str]]) -> None:
    """DRF's nested error details as field paths (`rules[0].operator`)."""
    if isinstance(detail, dict):
        for name, value in detail.items():
            _flatten(value, f"{path}.{name}" if path else str(name), into)
    elif isinstance(detail, list) and all(not isinstance(item, dict | list) for item in detail):
        into.setdefault(path, []).extend(str(item) for item in detail)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            _flatten(value, f"{path}[{index}]", into)
    else:
        into.setdefault(path, []).append(str(detail))


def _from_api_exception(exc: exceptions.APIException) -> Response:
    detail = exc.detail
    if isinstance(detail, dict | list):
        errors: dict[str, list[str]] = {}
        _flatten(detail, "", errors)
        body = error_body("Invalid input.", errors)
    else:
        body = error_body(str(detail))
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    return Response(body, status=exc.status_code, headers=headers)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, FlagValidationError):
        return Response(error_body(exc.detail, exc.errors), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, FlagNotFound | Http404):
        message = str(exc) if isinstance(exc, FlagNotFound) else "Not found."
        return Response(error_body(message), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, ResourceNotFound):
        return Response(error_body(exc.detail), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, Conflict):
        return Response(error_body(exc.detail, exc.errors), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, VersionMismatch):
        return Response(error_body(str(exc)), status=status.HTTP_412_PRECONDITION_FAILED)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.error("database unavailable: %s", exc)
        return Response(
            error_body("The database is unavailable; the change was not made. Retry later."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        response = _from_api_exception(exc)
        view = context.get("view")
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed) and view:
            request = context["request"]
            response.status_code = status.HTTP_401_UNAUTHORIZED
            header = view.get_authenticate_header(request)
            if header:
                response["WWW-Authenticate"] = header
        return response
    logger.exception("unhandled error in %s", context.get("view"))
    return Response(
        error_body("Internal server error."), status=status.HTTP_500_INTERNAL_SERVER_ERROR
    )
