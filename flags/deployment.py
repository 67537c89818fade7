"""This deployment's identity: the id that scopes its relay and the secret that signs it.

Deployments may share one Redis (even one Redis database number: pub/sub ignores it), so the
relay of each must only ever hear its own instances. The identity lives in the database (one row,
`DeploymentIdentity`, made by the first migrate), so every instance on one database has the same
one without configuration and another deployment has another. `SIDEKICK_DEPLOYMENT_ID` and
`SIDEKICK_RELAY_SECRET` override the row's values when set.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections

from flags.models import DeploymentIdentity


@dataclass(frozen=True, slots=True)
class Identity:
    deployment_id: str
    relay_secret: bytes

    def __repr__(self) -> str:  # never print the secret
        return f"Identity(deployment_id={self.deployment_id!r})"


_identity: Identity | None = None
_lock = threading.Lock()


def deployment_identity() -> Identity:
    """The identity (read once per process; from the database unless both settings are set).

    Blocking: call it from a thread (it may query the database the first time).
    """
    global _identity
    if _identity is None:
        with _lock:
            if _identity is None:
                _identity = _read_identity()
    return _identity


def load_deployment_identity() -> Identity:
    """`deployment_identity` from a worker thread outside any request: never keeps a connection."""
    close_old_connections()
    try:
        return deployment_identity()
    finally:
        close_old_connections()


def reset_deployment_identity() -> None:
    """Forgets the identity read (tests that change the settings or the row)."""
    global _identity
    with _lock:
        _identity = None


def _read_identity() -> Identity:
    deployment_id = settings.SIDEKICK_DEPLOYMENT_ID
    relay_secret = settings.SIDEKICK_RELAY_SECRET
    if deployment_id is None or relay_secret is None:
        # The migration made the row; get_or_create covers a table emptied by hand (the first
        # instance to get here writes it, the others read that one).
        row, _ = DeploymentIdentity.objects.get_or_create(
            id=DeploymentIdentity.SINGLETON_ID,
            defaults={
                "deployment_id": secrets.token_hex(16),
                "relay_secret": secrets.token_urlsafe(48),
            },
        )
        deployment_id = deployment_id or row.deployment_id
        relay_secret = relay_secret or row.relay_secret
    return Identity(deployment_id, relay_secret.encode())
