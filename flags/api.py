"""REST views: parse, call a selector or a service, render. Errors go to the one handler."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from flags import selectors, services
from flags.api_keys import Principal, actor_name
from flags.authentication import (
    BearerKeyAuthentication,
    CanReadFlags,
    CanWriteFlags,
    ReadOrWriteByMethod,
)
from flags.exception_handler import error_json_response
from flags.exceptions import Conflict, FlagNotFound, FlagValidationError, ResourceNotFound
from flags.models import Environment, Project
from flags.parsers import ExactContentNegotiation, StrictJSONParser
from flags.scopes import environment_by_keys, project_by_key
from flags.serializers import (
    ChangeRecordSerializer,
    EnvironmentCopyResultSerializer,
    EnvironmentSerializer,
    ErrorSerializer,
    EvaluateRequestSerializer,
    EvaluateResponseSerializer,
    FlagCopyResultSerializer,
    FlagCreateSerializer,
    FlagPatchSerializer,
    FlagSerializer,
    ProjectSerializer,
)
from flags.store import environment_stores, process_flag_store
from flags.validation import key_problem
from sidekick.metrics import evaluation_counted

ERRORS = {
    code: OpenApiResponse(ErrorSerializer, description=text)
    for code, text in {
        400: "Invalid input (field paths in `errors`).",
        401: "No, wrong or revoked key.",
        403: "The key's role may not do this.",
        404: "No such flag, project or environment.",
        409: "Conflicts with what exists (a key taken; API keys bound to it: see ?force=true).",
        412: "If-Match named a stale version.",
        413: "Body over 1 MiB.",
        415: "Body is not application/json.",
        503: "The database is unavailable.",
    }.items()
}
# What a project, environment or copy route may answer besides its success.
_READ_ERRORS = {code: ERRORS[code] for code in (400, 401, 403, 404, 503)}
_WRITE_ERRORS = {code: ERRORS[code] for code in (400, 401, 403, 404, 409, 412, 413, 415, 503)}

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


def _bound_environment_id(request: Request) -> int | None:
    principal = request.auth
    return principal.environment_id if isinstance(principal, Principal) else None


def environment_id_for(
    request: Request, project: str | None = None, environment: str | None = None
) -> int:
    """The environment a flag route addresses, by id.

    The v1 paths (no project in the URL): the key's environment, or SIDEKICK_DEFAULT_ENVIRONMENT
    for keys that reach every one (no database read for a bound key). A path naming an
    environment: that one; a key bound to another environment gets 403 whether or not the
    named one exists (its existence is not the key's to learn).
    """
    bound = _bound_environment_id(request)
    if project is None or environment is None:
        return bound if bound is not None else environment_stores().default_id()
    if bound is not None:
        named = (
            Environment.objects.filter(project__key=project, key=environment)
            .values_list("pk", flat=True)
            .first()
        )
        if named != bound:
            raise PermissionDenied("This API key is bound to another environment.")
        return bound
    return environment_by_keys(project, environment).pk


def environment_for(
    request: Request, project: str | None = None, environment: str | None = None
) -> Environment:
    """`environment_id_for` as the Environment row."""
    environment_id = environment_id_for(request, project, environment)
    found = Environment.objects.select_related("project").filter(pk=environment_id).first()
    if found is None:
        raise ResourceNotFound("This key's environment no longer exists.")
    return found


def write_target(
    request: Request, project: str | None = None, environment: str | None = None
) -> Environment:
    """The environment a flag write addresses, as the write path needs it (its id and its
    project's), from this process's memory once known: no query per write for it."""
    environment_id = environment_id_for(request, project, environment)
    project_id = environment_stores().project_id(environment_id)
    if project_id is None:
        raise ResourceNotFound("This key's environment no longer exists.")
    return Environment(pk=environment_id, project_id=project_id)


class FlagListApi(_ApiView):
    permission_classes = (ReadOrWriteByMethod,)

    @extend_schema(
        operation_id="flags_list",
        responses={200: FlagSerializer(many=True), **{c: ERRORS[c] for c in (401, 403, 404, 503)}},
        description="Every flag, from this instance's in-memory store (no pagination).",
    )
    def get(
        self, request: Request, project: str | None = None, environment: str | None = None
    ) -> HttpResponse:
        store = process_flag_store(environment_id_for(request, project, environment))
        return HttpResponse(store.encoded_list(), content_type="application/json")

    @extend_schema(
        operation_id="flags_create_or_replace",
        request=FlagCreateSerializer,
        parameters=[IF_MATCH],
        responses={
            200: OpenApiResponse(FlagSerializer, description="Replaced."),
            201: OpenApiResponse(FlagSerializer, description="Created."),
            **{code: ERRORS[code] for code in (400, 401, 403, 404, 412, 413, 415, 503)},
        },
        description="Creates the flag (201) or replaces it whole (200); omitted fields default.",
    )
    def post(
        self, request: Request, project: str | None = None, environment: str | None = None
    ) -> Response:
        result = services.flag_upsert(
            data=request.data,
            actor=_actor(request),
            if_match=if_match_version(request),
            environment=write_target(request, project, environment),
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
    def get(
        self,
        request: Request,
        key: str,
        project: str | None = None,
        environment: str | None = None,
    ) -> Response:
        environment_id = environment_id_for(request, project, environment)
        flag = selectors.flag_get_wire(key=key, environment_id=environment_id)
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
    def patch(
        self,
        request: Request,
        key: str,
        project: str | None = None,
        environment: str | None = None,
    ) -> Response:
        flag = services.flag_patch(
            key=key,
            data=request.data,
            actor=_actor(request),
            if_match=if_match_version(request),
            environment=write_target(request, project, environment),
        )
        return Response(flag, headers={"ETag": _etag(flag)})

    @extend_schema(
        operation_id="flags_destroy",
        parameters=[IF_MATCH],
        responses={204: None, **{code: ERRORS[code] for code in (401, 403, 404, 412, 503)}},
        description=(
            "Deletes the flag's definition, so the flag in every environment of its project, "
            "and broadcasts a DELETE with version + 1 in each."
        ),
    )
    def delete(
        self,
        request: Request,
        key: str,
        project: str | None = None,
        environment: str | None = None,
    ) -> Response:
        services.flag_delete(
            key=key,
            actor=_actor(request),
            if_match=if_match_version(request),
            environment=write_target(request, project, environment),
        )
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
            **{code: ERRORS[code] for code in (401, 403, 404, 503)},
        },
        description="The flag key's change records, newest first (also after a delete).",
    )
    def get(
        self,
        request: Request,
        key: str,
        project: str | None = None,
        environment: str | None = None,
    ) -> Response:
        environment_id = environment_id_for(request, project, environment)
        records = selectors.flag_history(key=key, environment_id=environment_id)
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
            **{code: ERRORS[code] for code in (400, 401, 403, 404, 413, 415, 503)},
        },
        description="Evaluates a flag for a user with the same core the SDKs use (404: no such "
        "project or environment; a missing flag is an answer, FLAG_NOT_FOUND).",
    )
    def post(
        self, request: Request, project: str | None = None, environment: str | None = None
    ) -> Response:
        flag_key, user_key, attributes = _evaluate_input(request.data)
        store = process_flag_store(environment_id_for(request, project, environment))
        evaluation = store.evaluate(flag_key, user_key, attributes)
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


# The same views on one named environment, under their own operation ids in the schema.
@extend_schema_view(
    get=extend_schema(operation_id="environment_flags_list"),
    post=extend_schema(operation_id="environment_flags_create_or_replace"),
)
class EnvironmentFlagListApi(FlagListApi):
    """Flag routes on one named environment."""


@extend_schema_view(
    get=extend_schema(operation_id="environment_flags_retrieve"),
    patch=extend_schema(operation_id="environment_flags_partial_update"),
    delete=extend_schema(operation_id="environment_flags_destroy"),
)
class EnvironmentFlagDetailApi(FlagDetailApi):
    """Flag routes on one named environment."""


@extend_schema_view(
    get=extend_schema(operation_id="environment_flags_history"),
)
class EnvironmentFlagHistoryApi(FlagHistoryApi):
    """Flag routes on one named environment."""


@extend_schema_view(
    post=extend_schema(operation_id="environment_evaluate"),
)
class EnvironmentEvaluateApi(EvaluateApi):
    """Evaluation in one named environment."""


# Projects, environments and copies (admin keys) -------------------------------------------------

NAME_MAX_LENGTH = 200


def _strict_object(
    data: Any, *, allowed: tuple[str, ...], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A JSON object with only `allowed` fields and every `required` one, else 400 (all the
    problems at once)."""
    if not isinstance(data, Mapping):
        raise FlagValidationError({}, detail="The body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    for name in data:
        if name not in allowed:
            errors[str(name)] = ["Unknown field."]
    for name in required:
        if name not in data:
            errors[name] = ["This field is required."]
    if "key" in data and (problem := key_problem(data["key"])):
        errors["key"] = [problem]
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX_LENGTH:
            errors["name"] = [f"Must be a string of 1 to {NAME_MAX_LENGTH} characters."]
    if "position" in data:
        position = data["position"]
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            errors["position"] = ["Must be an integer of at least 0."]
    for name in ("dry_run", "protected"):
        if name in data and not isinstance(data[name], bool):
            errors[name] = ["Must be a boolean (true or false)."]
    for name in ("from", "to"):
        if name in data and key_problem(data[name]):
            errors[name] = ["Must be the key of an environment of this project."]
    if errors:
        raise FlagValidationError(errors, detail="Invalid input.")
    return dict(data)


def _force(request: Request) -> bool:
    value = request.query_params.get("force", "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise FlagValidationError({"force": ["Must be true or false."]}, detail="Invalid input.")
    return value in ("true", "1")


def _project_environment(project: Project, key: str, *, field: str) -> Environment:
    environment = Environment.objects.select_related("project").filter(project=project, key=key)
    found = environment.first()
    if found is None:
        raise FlagValidationError(
            {field: [f"No environment {key!r} in project {project.key}."]}, detail="Invalid input."
        )
    return found


class ProjectListApi(_ApiView):
    permission_classes = (CanWriteFlags,)

    @extend_schema(
        operation_id="projects_list",
        responses={200: ProjectSerializer(many=True), **_READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response([selectors.project_wire(project) for project in selectors.project_list()])

    @extend_schema(
        operation_id="projects_create",
        request=OpenApiTypes.OBJECT,
        responses={201: ProjectSerializer, **_WRITE_ERRORS},
        description="`{key, name?}`: a project with environments development and production.",
    )
    def post(self, request: Request) -> Response:
        data = _strict_object(request.data, allowed=("key", "name"), required=("key",))
        if Project.objects.filter(key=data["key"]).exists():
            raise Conflict("A project with this key exists.", {"key": ["Already exists."]})
        project = services.project_create(key=data["key"], name=data.get("name") or data["key"])
        return Response(selectors.project_wire(project), status=status.HTTP_201_CREATED)


class ProjectDetailApi(_ApiView):
    permission_classes = (CanWriteFlags,)

    @extend_schema(
        operation_id="projects_retrieve", responses={200: ProjectSerializer, **_READ_ERRORS}
    )
    def get(self, request: Request, project: str) -> Response:
        return Response(selectors.project_wire(project_by_key(project)))

    @extend_schema(
        operation_id="projects_update",
        request=OpenApiTypes.OBJECT,
        responses={200: ProjectSerializer, **_WRITE_ERRORS},
    )
    def patch(self, request: Request, project: str) -> Response:
        found = project_by_key(project)
        data = _strict_object(request.data, allowed=("name",))
        if "name" in data:
            services.project_update(project=found, name=data["name"])
        return Response(selectors.project_wire(found))

    @extend_schema(
        operation_id="projects_destroy",
        responses={204: None, **_WRITE_ERRORS},
        description="409 while API keys are bound to its environments, unless ?force=true "
        "(which revokes them and closes their streams).",
    )
    def delete(self, request: Request, project: str) -> Response:
        services.project_delete(project=project_by_key(project), force=_force(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# The environment change a PATCH takes, as the schema documents it (the view validates it
# strictly itself).
ENVIRONMENT_CHANGE = inline_serializer(
    "EnvironmentChange",
    {
        "name": serializers.CharField(required=False),
        "position": serializers.IntegerField(min_value=0, required=False),
        "protected": serializers.BooleanField(required=False),
    },
)


class EnvironmentListApi(_ApiView):
    permission_classes = (CanWriteFlags,)

    @extend_schema(
        operation_id="environments_list",
        responses={200: EnvironmentSerializer(many=True), **_READ_ERRORS},
    )
    def get(self, request: Request, project: str) -> Response:
        found = project_by_key(project)
        return Response(
            [
                selectors.environment_wire(environment, project_key=found.key)
                for environment in selectors.environment_list(project_id=found.pk)
            ]
        )

    @extend_schema(
        operation_id="environments_create",
        request=EnvironmentSerializer,
        responses={201: EnvironmentSerializer, **_WRITE_ERRORS},
        description="`{key, name?, position?, protected?}`: every flag of the project starts off "
        "in it; a protected environment asks the dashboard for a confirmation before a "
        "one-click change.",
    )
    def post(self, request: Request, project: str) -> Response:
        found = project_by_key(project)
        data = _strict_object(
            request.data, allowed=("key", "name", "position", "protected"), required=("key",)
        )
        if found.environments.filter(key=data["key"]).exists():
            raise Conflict("An environment with this key exists.", {"key": ["Already exists."]})
        environment = services.environment_create(
            project=found,
            key=data["key"],
            name=data.get("name") or data["key"],
            position=data.get("position"),
            protected=data.get("protected", False),
        )
        return Response(
            selectors.environment_wire(environment, project_key=found.key),
            status=status.HTTP_201_CREATED,
        )


class EnvironmentDetailApi(_ApiView):
    permission_classes = (ReadOrWriteByMethod,)

    @extend_schema(
        operation_id="environments_retrieve",
        responses={200: EnvironmentSerializer, **_READ_ERRORS},
    )
    def get(self, request: Request, project: str, environment: str) -> Response:
        found = environment_for(request, project, environment)
        return Response(selectors.environment_wire(found, project_key=project))

    @extend_schema(
        operation_id="environments_update",
        request=ENVIRONMENT_CHANGE,
        responses={200: EnvironmentSerializer, **_WRITE_ERRORS},
        description="`{name?, position?, protected?}`.",
    )
    def patch(self, request: Request, project: str, environment: str) -> Response:
        found = environment_by_keys(project, environment)
        data = _strict_object(request.data, allowed=("name", "position", "protected"))
        services.environment_update(
            environment=found,
            name=data.get("name"),
            position=data.get("position"),
            protected=data.get("protected"),
        )
        return Response(selectors.environment_wire(found, project_key=project))

    @extend_schema(
        operation_id="environments_destroy",
        responses={204: None, **_WRITE_ERRORS},
        description="409 while API keys are bound to it, unless ?force=true (which revokes "
        "them and closes their streams).",
    )
    def delete(self, request: Request, project: str, environment: str) -> Response:
        found = environment_by_keys(project, environment)
        services.environment_delete(environment=found, force=_force(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _copy_result_wire(result: services.FlagCopyResult) -> dict[str, Any]:
    return {
        "key": result.key,
        "changes": [
            {"path": change.path, "before": change.before, "after": change.after}
            for change in result.changes
        ],
        "version": result.flag["version"],
    }


class FlagCopyApi(_ApiView):
    permission_classes = (CanWriteFlags,)

    @extend_schema(
        operation_id="flags_copy",
        request=OpenApiTypes.OBJECT,
        parameters=[IF_MATCH],
        responses={200: FlagCopyResultSerializer, **_WRITE_ERRORS},
        description='`{"from": E1, "to": E2, "fields"?: [...], "dry_run"?: bool}`: copies '
        "state fields in one transaction; If-Match names the target's version.",
    )
    def post(self, request: Request, project: str, key: str) -> Response:
        found = project_by_key(project)
        data = _strict_object(
            request.data,
            allowed=("from", "to", "fields", "dry_run"),
            required=("from", "to"),
        )
        result = services.flag_copy(
            project=found,
            key=key,
            source=_project_environment(found, data["from"], field="from"),
            target=_project_environment(found, data["to"], field="to"),
            fields=data.get("fields"),
            dry_run=data.get("dry_run", False),
            if_match=if_match_version(request),
            actor=_actor(request),
        )
        body = {"dry_run": data.get("dry_run", False), **_copy_result_wire(result)}
        return Response(body, headers={"ETag": _etag(result.flag)})


class EnvironmentCopyApi(_ApiView):
    permission_classes = (CanWriteFlags,)

    @extend_schema(
        operation_id="environments_copy",
        request=OpenApiTypes.OBJECT,
        responses={200: EnvironmentCopyResultSerializer, **_WRITE_ERRORS},
        description='`{"from": E1, "flags": [...] | "all", "dry_run"?: bool}` into this '
        "environment: every flag or, on any error, none.",
    )
    def post(self, request: Request, project: str, environment: str) -> Response:
        found = project_by_key(project)
        target = environment_by_keys(project, environment)
        data = _strict_object(
            request.data, allowed=("from", "flags", "dry_run"), required=("from", "flags")
        )
        results = services.environment_copy(
            project=found,
            source=_project_environment(found, data["from"], field="from"),
            target=target,
            flags=data["flags"],
            dry_run=data.get("dry_run", False),
            actor=_actor(request),
        )
        return Response(
            {
                "dry_run": data.get("dry_run", False),
                "flags": [_copy_result_wire(result) for result in results],
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
