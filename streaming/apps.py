"""Django app configuration for streaming."""

from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"

    def ready(self) -> None:
        # Here, not at the top: the hub reads flags' models, which load after this module.
        from streaming.hub import subscribe_to_flag_events

        # Every process, server or management command, relays what flags publishes.
        subscribe_to_flag_events()
