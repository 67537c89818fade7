"""SidekickProvider's events against a real server: READY, CONFIGURATION_CHANGED with the changed
key, STALE while the server is down and READY again after it restarts, ERROR on a refused or a
revoked key; and shutdown() closing the client the provider owns."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode, ProviderFatalError
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus
from sidekick_sdk import SidekickClient
from sidekick_sdk.openfeature import SidekickProvider

from flags.api_keys import prefix_of
from tests.e2e.server import REPO_ROOT, ServerGroup
from tests.e2e.sse import wait_until
from tests.sdk_python.scripted_stream import Reply, ScriptedStream, replay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

FAST = {"read_timeout": 5.0, "backoff_initial": 0.05, "backoff_max": 0.5}
EVENTS = (
    ProviderEvent.PROVIDER_READY,
    ProviderEvent.PROVIDER_CONFIGURATION_CHANGED,
    ProviderEvent.PROVIDER_STALE,
    ProviderEvent.PROVIDER_ERROR,
)


class EventLog:
    """Every provider event an OpenFeature client's handlers receive, in order."""

    def __init__(self, client: OpenFeatureClient) -> None:
        self.events: list[tuple[ProviderEvent, EventDetails]] = []
        self._lock = threading.Lock()
        for event in EVENTS:
            client.add_handler(event, lambda details, event=event: self._record(event, details))

    def _record(self, event: ProviderEvent, details: EventDetails) -> None:
        with self._lock:
            self.events.append((event, details))

    def kinds(self) -> list[ProviderEvent]:
        with self._lock:
            return [event for event, _ in self.events]

    def wait_for(self, event: ProviderEvent, count: int = 1, timeout: float = 30) -> None:
        wait_until(lambda: self.kinds().count(event) >= count, timeout, lambda: f"{self.kinds()}")

    def wait_for_after(
        self, event: ProviderEvent, earlier: ProviderEvent, timeout: float = 30
    ) -> None:
        """Waits for `event` to arrive after the last `earlier` one."""

        def arrived() -> bool:
            kinds = self.kinds()
            return earlier in kinds and event in kinds[len(kinds) - kinds[::-1].index(earlier) :]

        wait_until(arrived, timeout, lambda: f"{self.kinds()}")

    def last(self, event: ProviderEvent) -> EventDetails:
        with self._lock:
            return [details for kind, details in self.events if kind == event][-1]

    def changed_keys(self) -> list[str]:
        with self._lock:
            return [
                key
                for event, details in self.events
                if event == ProviderEvent.PROVIDER_CONFIGURATION_CHANGED
                for key in details.flags_changed or ()
            ]


@pytest.fixture
def domain() -> Iterator[str]:
    yield f"live-{uuid.uuid4().hex}"
    api.clear_providers()


@pytest.fixture(scope="module")
def admin(server_group, server) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server_group.admin_key}"},
        timeout=15,
    ) as client:
        yield client


def connect(domain: str, url: str, key: str | None) -> tuple[SidekickProvider, OpenFeatureClient]:
    provider = SidekickProvider.connect(url, key, init_timeout=15, **FAST)
    client = api.get_client(domain)
    return provider, client


def test_ready_change_stale_and_ready_again(server_group, server, admin, domain):
    admin.post("/api/flags", json={"key": "of_live", "is_enabled": True}).raise_for_status()
    provider, client = connect(domain, server.url, server_group.server_key)
    api.set_provider_and_wait(provider, domain)
    log = EventLog(client)  # added once READY: the API then runs the READY handler at once
    log.wait_for(ProviderEvent.PROVIDER_READY)
    assert client.get_provider_status() == ProviderStatus.READY
    user = EvaluationContext(targeting_key="u1")
    details = client.get_boolean_details("of_live", False, user)
    assert (details.value, details.reason, details.variant) == (True, Reason.STATIC, "on")
    assert details.flag_metadata["version"] >= 1

    admin.patch("/api/flags/of_live", json={"is_enabled": False}).raise_for_status()
    log.wait_for(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)
    assert "of_live" in log.changed_keys()
    assert client.get_boolean_details("of_live", True, user).reason == Reason.DISABLED

    server.stop()
    try:
        log.wait_for(ProviderEvent.PROVIDER_STALE)
        assert client.get_provider_status() == ProviderStatus.STALE
        # Last-known flags keep answering while stale.
        assert client.get_boolean_details("of_live", True, user).value is False
    finally:
        server.start()
    log.wait_for_after(ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_STALE)
    assert client.get_provider_status() == ProviderStatus.READY
    assert log.kinds().count(ProviderEvent.PROVIDER_STALE) == 1

    sidekick = provider.client
    assert sidekick is not None and sidekick._thread is not None
    api.clear_providers()  # shuts the provider down: it owns its client, so the client closes
    wait_until(lambda: not sidekick._thread.is_alive(), 10, "the owned client still runs")


def test_a_client_passed_in_stays_open_after_shutdown(server_group, server, domain):
    with SidekickClient(server.url, server_group.server_key, **FAST) as sidekick:
        api.set_provider_and_wait(SidekickProvider(sidekick), domain)
        assert api.get_client(domain).get_provider_status() == ProviderStatus.READY
        api.clear_providers()
        assert sidekick._thread is not None and sidekick._thread.is_alive()
        assert sidekick.connected


def test_an_unknown_key_is_a_fatal_error(server, domain):
    provider, client = connect(domain, server.url, "sk_server_bogus")
    log = EventLog(client)
    with pytest.raises(ProviderFatalError):
        api.set_provider_and_wait(provider, domain)
    log.wait_for(ProviderEvent.PROVIDER_ERROR)
    details = log.last(ProviderEvent.PROVIDER_ERROR)
    assert details.error_code == ErrorCode.PROVIDER_FATAL
    assert client.get_provider_status() == ProviderStatus.FATAL
    answer = client.get_boolean_details("anything", True)
    assert (answer.value, answer.error_code) == (True, ErrorCode.PROVIDER_FATAL)


def test_a_revoked_key_is_an_error(make_server_group, domain):
    group = make_server_group(keepalive_seconds=1.0)
    server = group.add_server()
    assert group.server_key is not None
    provider, client = connect(domain, server.url, group.server_key)
    api.set_provider_and_wait(provider, domain)
    log = EventLog(client)
    log.wait_for(ProviderEvent.PROVIDER_READY)

    prefix = prefix_of(group.server_key)
    assert prefix is not None
    manage(group, "revoke_api_key", prefix)
    log.wait_for_after(ProviderEvent.PROVIDER_ERROR, ProviderEvent.PROVIDER_READY)
    details = log.last(ProviderEvent.PROVIDER_ERROR)
    assert details.error_code == ErrorCode.PROVIDER_FATAL
    assert details.message is not None
    assert "401" in details.message or "revoked" in details.message
    assert client.get_provider_status() == ProviderStatus.FATAL


def manage(group: ServerGroup, *arguments: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=REPO_ROOT,
        env=group.env,
        check=True,
        timeout=60,
        capture_output=True,
    )


def test_a_goodbye_revoked_is_an_error(domain):
    # The server in this tree closes a revoked key's stream without a goodbye (the test above);
    # the scripted listener sends the contract's `goodbye` `revoked` on the second connection.
    max_age = 'event: goodbye\ndata: {"reason": "max_age", "reconnect_after_ms": 300}\n\n'
    revoked = 'event: goodbye\ndata: {"reason": "revoked", "reconnect_after_ms": 0}\n\n'
    script = [Reply(200, replay(["a"], "ep1:1") + max_age), Reply(200, revoked)]
    with ScriptedStream(script) as stream:
        provider, client = connect(domain, stream.url, "k")
        api.set_provider_and_wait(provider, domain)
        log = EventLog(client)
        log.wait_for_after(ProviderEvent.PROVIDER_ERROR, ProviderEvent.PROVIDER_READY)
        details = log.last(ProviderEvent.PROVIDER_ERROR)
        assert details.error_code == ErrorCode.PROVIDER_FATAL
        assert details.message is not None and "revoked" in details.message
        assert client.get_provider_status() == ProviderStatus.FATAL
        assert provider.client is not None and provider.client.stopped_reason == "revoked"
        assert len(stream.requests) == 2
