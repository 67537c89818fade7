"""REST API routes (mounted under /api/), as docs/contract.md names them: no trailing slashes."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from flags import api

urlpatterns = [
    path("flags", api.FlagListApi.as_view(), name="flag-list"),
    path("flags/<str:key>", api.FlagDetailApi.as_view(), name="flag-detail"),
    path("flags/<str:key>/history", api.FlagHistoryApi.as_view(), name="flag-history"),
    path("evaluate", api.EvaluateApi.as_view(), name="evaluate"),
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
