"""Django app configuration for flags."""

from django.apps import AppConfig


class FlagsConfig(AppConfig):
    name = "flags"
    default_auto_field = "django.db.models.BigAutoField"
