"""Django app configuration for flags."""

from django.apps import AppConfig


class FlagsConfig(AppConfig):
    name = "flags"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the Bearer scheme with drf-spectacular (import for its side effect).
        from flags import schema  # noqa: F401
