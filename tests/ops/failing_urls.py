"""The project's URLs plus two views that fail, to see what an unhandled error looks like."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from sidekick import urls as project_urls


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals: /srv/sidekick/settings.py line 42")


urlpatterns = [
    path("api/failing", fail),
    path("failing", fail),
    *project_urls.urlpatterns,
]

handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler500 = project_urls.handler500
