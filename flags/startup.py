"""The startup guard: a production server (debug off) refuses to start with unsafe settings.

It refuses without an API key, with the development secret key, and with authentication turned
off; a development server with authentication off says so loudly.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from flags.api_keys import active_key_exists

logger = logging.getLogger("flags")

REFUSAL = (
    "Sidekick refuses to start: debug is off (SIDEKICK_DEBUG) and no API key is configured, so the "
    "API and the stream would be open to anyone. Set SDK_KEY, or create a key with "
    "`manage.py create_api_key --role admin --name NAME`."
)
SECRET_REFUSAL = (
    "Sidekick refuses to start: debug is off (SIDEKICK_DEBUG) and DJANGO_SECRET_KEY is not set, so "
    "admin sessions would be signed with the public development secret. Set DJANGO_SECRET_KEY to a "
    "long random value."
)
AUTH_DISABLED_REFUSAL = (
    "Sidekick refuses to start: SIDEKICK_AUTH_DISABLED is set with debug off. Authentication can "
    "be turned off for local development only (SIDEKICK_DEBUG=1)."
)
AUTH_OFF_WARNING = (
    "AUTHENTICATION IS OFF (SIDEKICK_AUTH_DISABLED=1, development only): anyone who can reach "
    "this server can read and change flags. Every response says so in X-Sidekick-Auth."
)


def refuse_unsafe_start() -> None:
    """Raises ImproperlyConfigured when production would start unsafely; warns in development."""
    if settings.SIDEKICK_AUTH_DISABLED:
        if not settings.DEBUG:
            raise ImproperlyConfigured(AUTH_DISABLED_REFUSAL)
        logger.warning(AUTH_OFF_WARNING)
    if settings.DEBUG:
        return
    if settings.SIDEKICK_DEV_SECRET_KEY:
        raise ImproperlyConfigured(SECRET_REFUSAL)
    if settings.SDK_KEY:
        return
    try:
        has_key = active_key_exists()
    except DatabaseError as error:
        # Undecidable now; with debug off every request still needs a key (auth fails closed).
        logger.warning("cannot check for API keys at startup (%s); continuing", error)
        return
    if not has_key:
        raise ImproperlyConfigured(REFUSAL)
