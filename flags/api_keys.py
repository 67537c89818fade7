"""API keys: how a raw key becomes a Principal (SDK_KEY or a database key), and how keys are made.

A database key looks like `sk_server_<43 random url-safe chars>`. Only its SHA-256 is stored, with
a short visible prefix (`sk_server_AbCd1234`) that finds the row and lets people tell keys apart.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from flags.models import ApiKey, ApiKeyRole

Role = Literal["admin", "server", "client"]
ROLES: tuple[Role, ...] = ("admin", "server", "client")
# Random characters of the prefix shown next to the role; 48 bits make a collision negligible.
PREFIX_RANDOM_CHARS = 8
# last_used_at is a hint for people, not an audit trail: one UPDATE per key per minute at most.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the role decides what they may do; key_id is None for SDK_KEY."""

    role: Role
    name: str
    key_id: int | None


# The caller when authentication is off (local development with no key configured).
ANONYMOUS_DEVELOPER = Principal(role="admin", name="anonymous (auth disabled)", key_id=None)
SDK_KEY_PRINCIPAL_NAME = "SDK_KEY"


def hash_secret(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def new_secret(role: Role) -> tuple[str, str]:
    """A fresh raw key for a role and its visible prefix."""
    token = secrets.token_urlsafe(32)
    return f"sk_{role}_{token}", f"sk_{role}_{token[:PREFIX_RANDOM_CHARS]}"


# What a database key can be made of (token_urlsafe's alphabet), with room for longer tokens;
# anything else (a NUL, spaces, a megabyte) is refused before it is hashed or queried.
_KEY_SHAPE = re.compile(
    rf"sk_(?:admin|server|client)_[A-Za-z0-9_-]{{{PREFIX_RANDOM_CHARS + 1},200}}"
)


def prefix_of(raw_key: str) -> str | None:
    """The visible prefix a well-formed raw key must have, or None for a malformed key."""
    if not _KEY_SHAPE.fullmatch(raw_key):
        return None
    head = raw_key[: raw_key.index("_", 3) + 1]
    return raw_key[: len(head) + PREFIX_RANDOM_CHARS]


def active_key_exists() -> bool:
    return ApiKey.objects.filter(revoked_at__isnull=True).exists()


def auth_enabled() -> bool:
    """False only when configured so at start (SIDEKICK_AUTH_DISABLED, refused with debug off).

    Never decided by data: revoking the last key must not open the API to anyone.
    """
    return not settings.SIDEKICK_AUTH_DISABLED


def _sdk_key_matches(raw_key: str) -> bool:
    configured = settings.SDK_KEY
    return bool(configured) and hmac.compare_digest(
        raw_key.encode("utf-8"), str(configured).encode("utf-8")
    )


def _database_principal(raw_key: str) -> Principal | None:
    prefix = prefix_of(raw_key)
    if prefix is None:
        return None
    secret_hash = hash_secret(raw_key)
    try:
        key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
        if key is None or not hmac.compare_digest(secret_hash, key.secret_sha256):
            _forget(secret_hash)
            return None
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    except DatabaseError:
        cached = _recall(secret_hash)
        if cached is None:
            raise
        return cached
    principal = _principal(key)
    _remember(secret_hash, principal)
    return principal


# Keys that authenticated recently, by secret hash, consulted ONLY while the database cannot be
# reached: readers and SDK streams that worked a moment ago keep working through an outage (the
# flag list and the stream are served from memory). Revocation needs the database, so nothing
# revoked during the outage is missed; the window is bounded for anything revoked just before.
OUTAGE_GRACE = timedelta(minutes=10)
_recent: dict[str, tuple[Principal, float]] = {}
_recent_lock = threading.Lock()


def _remember(secret_hash: str, principal: Principal) -> None:
    with _recent_lock:
        _recent[secret_hash] = (principal, time.monotonic())


def _forget(secret_hash: str) -> None:
    with _recent_lock:
        _recent.pop(secret_hash, None)


def _recall(secret_hash: str) -> Principal | None:
    with _recent_lock:
        entry = _recent.get(secret_hash)
    if entry is None or time.monotonic() - entry[1] > OUTAGE_GRACE.total_seconds():
        return None
    return entry[0]


def _principal(key: ApiKey) -> Principal:
    role: Role = ApiKeyRole(key.role).value  # type: ignore[assignment]
    return Principal(role=role, name=key.name, key_id=key.pk)


def authenticate_bearer(raw_key: str) -> Principal | None:
    """The caller behind an `Authorization: Bearer` key: SDK_KEY (admin) or any active DB key."""
    if not raw_key:
        return None
    if _sdk_key_matches(raw_key):
        return Principal(role="admin", name=SDK_KEY_PRINCIPAL_NAME, key_id=None)
    return _database_principal(raw_key)


def authenticate_query_key(raw_key: str) -> Principal | None:
    """The caller behind a `?sdk_key=` key: only client keys, because URLs end up in logs."""
    if not raw_key:
        return None
    principal = _database_principal(raw_key)
    if principal is None or principal.role != ApiKeyRole.CLIENT:
        return None
    return principal


def actor_name(principal: Principal) -> str:
    """How a principal appears in the audit log."""
    if principal.key_id is None:
        return principal.name if principal.name == SDK_KEY_PRINCIPAL_NAME else "anonymous"
    return f"api_key:{principal.key_id}:{principal.name}"
