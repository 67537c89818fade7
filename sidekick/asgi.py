"""ASGI entry point: Django for HTTP, except `/stream`, which the SSE consumer serves."""

import os

from sidekick.handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidekick.settings")
django_application = get_asgi_application()

from flags.startup import refuse_unsafe_start  # noqa: E402

refuse_unsafe_start()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from sidekick.guards import ExposureGuard  # noqa: E402
from sidekick.middleware import OperationsMiddleware  # noqa: E402
from streaming.collector import freeze_new  # noqa: E402
from streaming.hub import HubStartMiddleware, update_hub  # noqa: E402
from streaming.routing import stream_urlpatterns  # noqa: E402


async def _start_hub() -> None:
    await update_hub().ensure_started()


application = ProtocolTypeRouter(
    {
        # Probes, request logs and metrics first (sidekick/middleware.py); then the first request
        # starts the process's hub (group subscription, store, reconciliation). /readyz starts
        # the hub too, so a process that gets no traffic until it is ready still becomes ready.
        # ExposureGuard (sidekick/guards.py) inside them: ALLOWED_HOSTS for every route, /stream
        # included, after the probes (which orchestrators call by the pod's address).
        "http": OperationsMiddleware(
            ExposureGuard(
                HubStartMiddleware(
                    URLRouter([*stream_urlpatterns, re_path(r"", django_application)])  # type: ignore[arg-type]
                )
            ),
            start_components=_start_hub,
        ),
    }
)

# Everything loaded by now (Django, DRF, Twisted, the URL conf, the admin) stays for the life of
# the process: left out of full garbage collections, which otherwise walk it every time.
if settings.SIDEKICK_GC_FREEZE:
    freeze_new()
