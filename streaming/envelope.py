"""The relay's envelope: every channel-layer message is scoped to one deployment and signed.

Several deployments may share one Redis, and Redis pub/sub ignores the database number, so a
process can receive messages that are not its deployment's (or that anyone with access to Redis
wrote). A sealed message is

    {"type": "sidekick.relay", "payload": "<JSON>", "mac": "<hex HMAC-SHA256 of payload>"}

where the payload names the deployment, the moment it was sent and the message itself, and the
MAC is keyed with the deployment's relay secret (`flags.deployment`). `open_envelope` accepts a
message only if its MAC verifies (compared in constant time), it names this deployment, and it
was sent within MAX_AGE_SECONDS (either way, for clock skew between hosts); anything else raises
`Rejected` with the reason, and the relay drops it.

Replays: a recorded message of this deployment replayed later is dropped once it is older than
MAX_AGE_SECONDS; inside that window it does no harm either, because a change applies only when
its version is newer than the one held (a replayed change is an old version by then, or the same
one), and a revoked key stays revoked (its streams are already closed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from flags.deployment import Identity
from flags.wire import encode_json

ENVELOPE_TYPE = "sidekick.relay"
# Generous: it only bounds how long a recorded message can be replayed, and hosts' clocks differ.
MAX_AGE_SECONDS = 300.0


class Rejected(Exception):
    """A message that is not this deployment's authentic, recent message; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def seal(identity: Identity, message: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The channel-layer message carrying `message` for `identity`'s deployment."""
    payload = encode_json(
        {
            "deployment": identity.deployment_id,
            "sent_at": time.time() if now is None else now,
            "message": message,
        }
    )
    return {"type": ENVELOPE_TYPE, "payload": payload, "mac": _mac(identity, payload)}


def open_envelope(
    identity: Identity, sealed: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """The message inside `sealed`; raises `Rejected` unless it is authentic, ours and recent."""
    payload, mac = sealed.get("payload"), sealed.get("mac")
    if sealed.get("type") != ENVELOPE_TYPE or not isinstance(payload, str):
        raise Rejected("unsealed")
    if not isinstance(mac, str) or not hmac.compare_digest(_mac(identity, payload), mac):
        raise Rejected("bad_signature")
    # Authentic from here on: written by a holder of this deployment's secret.
    try:
        decoded = json.loads(payload)
        deployment, sent_at, message = (
            decoded["deployment"],
            float(decoded["sent_at"]),
            decoded["message"],
        )
    except (ValueError, TypeError, KeyError):
        raise Rejected("malformed") from None
    if deployment != identity.deployment_id:
        raise Rejected("foreign_deployment")
    if abs((time.time() if now is None else now) - sent_at) > MAX_AGE_SECONDS:
        raise Rejected("stale")
    if not isinstance(message, dict):
        raise Rejected("malformed")
    return message


def _mac(identity: Identity, payload: str) -> str:
    return hmac.new(identity.relay_secret, payload.encode(), hashlib.sha256).hexdigest()
