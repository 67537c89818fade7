"""Control-plane test fixtures: API keys per role, authenticated clients, event capture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from flags import events, services
from flags.models import ApiKey, ChangeRecord, FlagTombstone
from flags.scopes import default_environment
from flags.selectors import flag_list_wire
from flags.store import environment_stores, reset_process_flag_store


@pytest.fixture(autouse=True)
def fresh_process_store() -> Iterator[None]:
    """Each test's store loads from that test's database, not a previous test's."""
    reset_process_flag_store()
    yield
    reset_process_flag_store()


@pytest.fixture
def published() -> Iterator[list[events.ChangeEvent]]:
    """Every flag change event published in the default environment after a commit, as a
    subscriber (and a v1 client) sees it."""
    seen: list[events.ChangeEvent] = []

    def record(published: events.FlagChangePublished) -> None:
        if published.environment_id == environment_stores().default_id():
            seen.append(published.event)

    unsubscribe = events.on_flag_change(record)
    yield seen
    unsubscribe()


@pytest.fixture
def published_everywhere() -> Iterator[list[events.FlagChangePublished]]:
    """Every flag change published after a commit, in any environment."""
    seen: list[events.FlagChangePublished] = []
    unsubscribe = events.on_flag_change(seen.append)
    yield seen
    unsubscribe()


@pytest.fixture
def revoked_published() -> Iterator[list[int]]:
    """The id of every key whose revocation was published."""
    seen: list[int] = []
    unsubscribe = events.on_key_revoked(seen.append)
    yield seen
    unsubscribe()


@pytest.fixture
def keys(db: None) -> dict[str, str]:
    """A raw key of each role, plus a revoked admin key."""
    result = {
        role: services.api_key_create(name=f"{role} key", role=role)[1]
        for role in ("admin", "server", "client")
    }
    revoked, raw = services.api_key_create(name="revoked", role="admin")
    services.api_key_revoke(api_key=revoked)
    result["revoked"] = raw
    return result


def client_for(raw_key: str | None) -> APIClient:
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def admin_client(keys: dict[str, str]) -> APIClient:
    return client_for(keys["admin"])


@pytest.fixture
def server_client(keys: dict[str, str]) -> APIClient:
    return client_for(keys["server"])


def stored_state() -> dict[str, Any]:
    """Everything a rejected write must leave unchanged."""
    return {
        "flags": flag_list_wire(),
        "changes": list(ChangeRecord.objects.order_by("id").values()),
        "tombstones": list(FlagTombstone.objects.order_by("id").values()),
        "keys": list(ApiKey.objects.order_by("id").values("id", "revoked_at")),
    }


def in_default_environment(model: Any) -> Any:
    """`model`'s rows in SIDEKICK_DEFAULT_ENVIRONMENT: what a v1 client reads and writes."""
    return model.objects.filter(environment=default_environment())
