"""REST API routes (mounted under /api/), as docs/contract.md names them: no trailing slashes."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from flags import api

urlpatterns = [
    path("flags", api.FlagListApi.as_view(), name="flag-list"),
    path("flags/<str:key>", api.FlagDetailApi.as_view(), name="flag-detail"),
    path("flags/<str:key>/history", api.FlagHistoryApi.as_view(), name="flag-history"),
    path("evaluate", api.EvaluateApi.as_view(), name="evaluate"),
    path("projects", api.ProjectListApi.as_view(), name="project-list"),
    path("projects/<str:project>", api.ProjectDetailApi.as_view(), name="project-detail"),
    path(
        "projects/<str:project>/flags/<str:key>/copy",
        api.FlagCopyApi.as_view(),
        name="flag-copy",
    ),
    path(
        "projects/<str:project>/environments",
        api.EnvironmentListApi.as_view(),
        name="environment-list",
    ),
    path(
        "projects/<str:project>/environments/<str:environment>",
        api.EnvironmentDetailApi.as_view(),
        name="environment-detail",
    ),
    path(
        "projects/<str:project>/environments/<str:environment>/copy",
        api.EnvironmentCopyApi.as_view(),
        name="environment-copy",
    ),
    path(
        "projects/<str:project>/environments/<str:environment>/flags",
        api.EnvironmentFlagListApi.as_view(),
        name="env-flag-list",
    ),
    path(
        "projects/<str:project>/environments/<str:environment>/flags/<str:key>",
        api.EnvironmentFlagDetailApi.as_view(),
        name="env-flag-detail",
    ),
    path(
        "projects/<str:project>/environments/<str:environment>/flags/<str:key>/history",
        api.EnvironmentFlagHistoryApi.as_view(),
        name="env-flag-history",
    ),
    path(
        "projects/<str:project>/environments/<str:environment>/evaluate",
        api.EnvironmentEvaluateApi.as_view(),
        name="env-evaluate",
    ),
    path(
        "schema",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "docs",
        SpectacularSwaggerView.as_view(
            url_name="schema", authentication_classes=[], permission_classes=[]
        ),
        name="docs",
    ),
    re_path(r"^.*$", api.api_not_found),
]
