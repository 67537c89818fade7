"""URL routes of the control plane: the admin dashboard and the REST API."""

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from flags.api import api_not_found

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("flags.urls")),
    # `/api` itself answers like any unknown API path (flags/urls.py ends in a catch-all).
    path("api", api_not_found),
    # The dashboard's CSS/JS straight from the installed apps, so daphne alone serves a working
    # admin (no collectstatic step, debug or not); a proxy in front may serve STATIC_URL itself.
    re_path(
        rf"^{settings.STATIC_URL.strip('/')}/(?P<path>.*)$",
        serve_static,
        {"insecure": True},
    ),
]

handler400 = "sidekick.error_views.bad_request"
handler403 = "sidekick.error_views.permission_denied"
handler500 = "sidekick.error_views.server_error"
