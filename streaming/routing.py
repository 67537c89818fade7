"""ASGI routes served by Channels consumers rather than Django views."""

from django.urls import path

from streaming.consumers import StreamConsumer

stream_urlpatterns = [path("stream", StreamConsumer.as_asgi())]
