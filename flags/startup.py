"""The startup guard: with debug off and no key configured the server refuses to start."""

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
AUTH_OFF_WARNING = (
    "Authentication is OFF: local development (SIDEKICK_DEBUG) with no SDK_KEY and no API key. "
    "Anyone who can reach this server can change flags. Create a key to turn it on."
)


def refuse_unsafe_start() -> None:
    """Raises ImproperlyConfigured when production would run unauthenticated; warns in dev."""
    if settings.SDK_KEY:
        return
    try:
        has_key = active_key_exists()
    except DatabaseError as error:
        # Undecidable now; with debug off every request still needs a key (auth fails closed).
        logger.warning("cannot check for API keys at startup (%s); continuing", error)
        return
    if has_key:
        return
    if not settings.DEBUG:
        raise ImproperlyConfigured(REFUSAL)
    logger.warning(AUTH_OFF_WARNING)
