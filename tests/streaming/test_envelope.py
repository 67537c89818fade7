"""The relay's envelope: only this deployment's authentic, recent messages open."""

from __future__ import annotations

import json

import pytest

from flags.deployment import Identity
from streaming.envelope import MAX_AGE_SECONDS, Rejected, open_envelope, seal

OURS = Identity("deployment-a", b"a" * 48)
MESSAGE = {"kind": "flag.change", "event": {"type": "DELETE", "key": "k", "version": 2}}
NOW = 1_800_000_000.0


def reason(identity: Identity, sealed: object, now: float = NOW) -> str:
    with pytest.raises(Rejected) as rejected:
        open_envelope(identity, sealed, now)  # type: ignore[arg-type]
    return rejected.value.reason


def test_a_sealed_message_opens_for_its_deployment():
    assert open_envelope(OURS, seal(OURS, MESSAGE, NOW), NOW) == MESSAGE


def test_a_message_signed_with_another_secret_is_rejected():
    theirs = Identity("deployment-a", b"b" * 48)  # even under the same deployment id
    assert reason(OURS, seal(theirs, MESSAGE, NOW)) == "bad_signature"


def test_a_missing_or_mangled_mac_is_rejected():
    sealed = seal(OURS, MESSAGE, NOW)
    assert reason(OURS, {**sealed, "mac": None}) == "bad_signature"
    assert reason(OURS, {key: value for key, value in sealed.items() if key != "mac"}) == (
        "bad_signature"
    )
    assert reason(OURS, {**sealed, "mac": sealed["mac"].upper()}) == "bad_signature"


def test_a_changed_payload_no_longer_matches_its_mac():
    sealed = seal(OURS, MESSAGE, NOW)
    tampered = sealed["payload"].replace('"version":2', '"version":9')
    assert tampered != sealed["payload"]
    assert reason(OURS, {**sealed, "payload": tampered}) == "bad_signature"


def test_an_unsealed_message_is_rejected():
    assert reason(OURS, {"type": "flag.change", "event": MESSAGE["event"]}) == "unsealed"
    assert reason(OURS, {"type": "sidekick.relay", "payload": {"not": "a string"}}) == "unsealed"


def test_another_deployment_sharing_the_secret_is_still_rejected():
    twin = Identity("deployment-b", OURS.relay_secret)
    assert reason(OURS, seal(twin, MESSAGE, NOW)) == "foreign_deployment"


def test_a_message_older_or_newer_than_the_window_is_rejected():
    sealed = seal(OURS, MESSAGE, NOW)
    assert open_envelope(OURS, sealed, NOW + MAX_AGE_SECONDS - 1) == MESSAGE
    assert reason(OURS, sealed, NOW + MAX_AGE_SECONDS + 1) == "stale"
    assert reason(OURS, sealed, NOW - MAX_AGE_SECONDS - 1) == "stale"


def test_the_payload_names_the_deployment_and_the_moment():
    payload = json.loads(seal(OURS, MESSAGE, NOW)["payload"])
    assert payload == {"deployment": "deployment-a", "sent_at": NOW, "message": MESSAGE}


def test_the_identity_never_shows_its_secret():
    assert "aaaa" not in repr(OURS)
