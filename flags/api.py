"""REST views: parse, call a selector or a service, render. Errors go to the one handler."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from flags import selectors, services
from flags.api_keys import Principal, actor_name
from flags.authentication import BearerKeyAuthentication, CanReadFlags, ReadOrWriteByMethod
from flags.exception_handler import error_json_response
from flags.exceptions import FlagNotFound, FlagValidationError
from flags.parsers import ExactContentNegotiation, StrictJSONParser
from flags.serializers import (
    ChangeRecordSerializer,
    ErrorSerializer,
    EvaluateRequestSerializer,
    EvaluateResponseSerializer,
    FlagCreateSerializer,
    FlagPatchSerializer,
    FlagSerializer,
)
from flags.store import process_flag_store
from flags.validation import key_problem
from sidekick.metrics import evaluation_counted

ERRORS = {
    code: OpenApiResponse(ErrorSerializer, description=text)
    for code, text in {
        400: "Invalid input (field paths in `errors`).",
        401: "No, wrong or revoked key.",
        403: "The key's role may not do this.",
        404: "No such flag.",
        412: "If-Match named a stale version.",
        413: "Body over 1 MiB.",
        415: "Body is not application/json.",
        503: "The database is unavailable.",
    }.items()
}
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='`"<version>"`: the change is made only if the flag is at that version (else 412).',
)
# An If-Match that names no integer version can never match (RFC 9110): it fails with 412.
_UNMATCHABLE_VERSION = -1
# ASCII digits only (str.isdigit also accepts "²"), and no more than a version can have: a
# 64-bit counter has 19 digits, and int() refuses more than 4,300.
_VERSION_TAG = re.compile(r"[0-9]{1,19}")


def if_match_version(request: Request) -> int | None:
    """The version named by If-Match (`"7"`, `7` or `W/"7"`), None when absent or `*`."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    return int(text) if _VERSION_TAG.fullmatch(text) else _UNMATCHABLE_VERSION


def _actor(request: Request) -> str:
    principal = request.auth
    return actor_name(principal) if isinstance(principal, Principal) else "anonymous"


class _ApiView(APIView):
    authentication_classes = (BearerKeyAuthentication,)
    parser_classes = (StrictJSONParser,)
    content_negotiation_class = ExactContentNegotiation

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # A key no flag can have (a NUL, a space, 10,000 characters) names no flag: answered
        # here rather than sent to the database, which may refuse it with an error.
        if "key" in kwargs and key_problem(kwargs["key"]) is not None:
            raise FlagNotFound(kwargs["key"])


class FlagListApi(_ApiView):
    permission_classes = (ReadOrWriteByMethod,)

    @extend_schema(
        operation_id="flags_list",
        responses={200: FlagSerializer(many=True), 401: ERRORS[401], 403: ERRORS[403]},
        description="Every flag, from this instance's in-memory store (no pagination).",
    )
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(process_flag_store().encoded_list(), content_type="application/json")

    @extend_schema(
        operation_id="flags_create_or_replace",
        request=FlagCreateSerializer,
        parameters=[IF_MATCH],
        responses={
            200: OpenApiResponse(FlagSerializer, description="Replaced."),
            201: OpenApiResponse(FlagSerializer, description="Created."),
            **{code: ERRORS[code] for code in (400, 401, 403, 412, 413, 415, 503)},
        },
        description="Creates the flag (201) or replaces it whole (200); omitted fields default.",
    )
    def post(self, request: Request) -> Response:
        result = services.flag_upsert(
            data=request.data, actor=_actor(request), if_match=if_match_version(request)
        )
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(result.flag, status=code, headers={"ETag": _etag(result.flag)})


def _etag(flag: Mapping[str, Any]) -> str:
    return f'"{flag["version"]}"'


class FlagDetailApi(_ApiView):
    permission_classes = (ReadOrWriteByMethod,)

    @extend_schema(
        operation_id="flags_retrieve",
        responses={200: FlagSerializer, **{code: ERRORS[code] for code in (401, 403, 404, 503)}},
        description='One flag, with `ETag: "<version>"`.',
    )
    def get(self, request: Request, key: str) -> Response:
        flag = selectors.flag_get_wire(key=key)
        if flag is None:
            raise FlagNotFound(key)
        return Response(flag, headers={"ETag": _etag(flag)})

    @extend_schema(
        operation_id="flags_partial_update",
        request=FlagPatchSerializer,
        parameters=[IF_MATCH],
        responses={
            200: FlagSerializer,
            **{code: ERRORS[code] for code in (400, 401, 403, 404, 412, 413, 415, 503)},
        },
        description="Changes only the fields sent; `rules` is replaced whole.",
    )
    def patch(self, request: Request, key: str) -> Response:
        flag = services.flag_patch(
            key=key, data=request.data, actor=_actor(request), if_match=if_match_version(request)
        )
        return Response(flag, headers={"ETag": _etag(flag)})

    @extend_schema(
        operation_id="flags_destroy",
        parameters=[IF_MATCH],
        responses={204: None, **{code: ERRORS[code] for code in (401, 403, 404, 412, 503)}},
        description="Deletes the flag and broadcasts a DELETE with version + 1.",
    )
    def delete(self, request: Request, key: str) -> Response:
        services.flag_delete(key=key, actor=_actor(request), if_match=if_match_version(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HistoryPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class FlagHistoryApi(_ApiView):
    permission_classes = (CanReadFlags,)
    # Declared (and used below) so that the schema shows the paginated envelope.
    pagination_class = HistoryPagination

    @extend_schema(
        operation_id="flags_history",
        responses={
            200: ChangeRecordSerializer(many=True),
            **{code: ERRORS[code] for code in (401, 403, 404)},
        },
        description="The flag key's change records, newest first (also after a delete).",
    )
    def get(self, request: Request, key: str) -> Response:
        records = selectors.flag_history(key=key)
        if not records.exists():
            raise FlagNotFound(key)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(records, request, view=self) or []
        return paginator.get_paginated_response(
            [selectors.change_record_wire(record) for record in page]
        )


def _evaluate_input(data: Any) -> tuple[str, str, dict[str, Any] | None]:
    if not isinstance(data, Mapping):
        raise FlagValidationError({}, detail="The body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    for name in data:
        if name not in ("flag", "user_key", "attributes"):
            errors[str(name)] = ["Unknown field."]
    for name in ("flag", "user_key"):
        if name not in data:
            errors[name] = ["This field is required."]
        elif not isinstance(data[name], str):
            errors[name] = ["Must be a string."]
    attributes = data.get("attributes")
    if attributes is not None and not isinstance(attributes, Mapping):
        errors["attributes"] = ["Must be an object of attribute values, or null."]
    if errors:
        raise FlagValidationError(errors, detail="Invalid evaluation request.")
    return data["flag"], data["user_key"], dict(attributes) if attributes is not None else None


class EvaluateApi(_ApiView):
    permission_classes = (CanReadFlags,)

    @extend_schema(
        operation_id="evaluate",
        request=EvaluateRequestSerializer,
        responses={
            200: EvaluateResponseSerializer,
            **{code: ERRORS[code] for code in (400, 401, 403, 413, 415)},
        },
        description="Evaluates a flag for a user with the same core the SDKs use.",
    )
    def post(self, request: Request) -> Response:
        flag_key, user_key, attributes = _evaluate_input(request.data)
        evaluation = process_flag_store().evaluate(flag_key, user_key, attributes)
        evaluation_counted(evaluation.reason)  # ops: metrics (keep through the refactor)
        return Response(
            {
                "flag": flag_key,
                "enabled": evaluation.enabled,
                "reason": evaluation.reason,
                "rule_index": evaluation.rule_index,
                "version": evaluation.version,
            }
        )


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under /api/, any method: the JSON error shape, not Django's HTML pages.

    Exempt from CSRF: the API takes no cookies, and a POST to a mistyped path must read as
    "no such path" rather than as an authentication problem.
    """
    path = request.path
    if path.endswith("/") and path.rstrip("/") and _routes_to_the_api(path.rstrip("/")):
        return error_json_response(
            status.HTTP_404_NOT_FOUND,
            f"Not found. API paths have no trailing slash: use {path.rstrip('/')}",
        )
    return error_json_response(status.HTTP_404_NOT_FOUND, "Not found.")


def _routes_to_the_api(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.func is not api_not_found
