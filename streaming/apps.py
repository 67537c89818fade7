"""Django app configuration for streaming."""

from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"
