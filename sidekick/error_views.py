"""Django's last-resort error views: the API's error shape under /api/, plain pages elsewhere.

With debug off Django never shows a traceback; these make the answer under /api/ the one JSON
error shape as well, for errors raised outside DRF (middleware, a bad Host header, a plain view).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "errors": {}}, status=status)


def bad_request(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return _error(400, "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return _error(403, "Permission denied.")
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    if _is_api(request):
        return _error(500, "Internal server error.")
    return defaults.server_error(request)
