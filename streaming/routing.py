"""ASGI routes served by Channels consumers rather than Django views."""

stream_urlpatterns: list = []
