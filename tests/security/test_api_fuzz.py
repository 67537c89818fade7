"""A bounded property-based fuzz of the whole API, generated from its own OpenAPI schema.

Schemathesis sends what the schema allows and what it forbids to a real server on PostgreSQL
(a daphne process from the e2e harness, with an admin key) and fails on any 5xx and on any
response that breaks the schema (undocumented status, wrong content type, body off its schema).
Bounded for CI (a fixed number of examples per operation, no per-example deadline since this is
a network round trip) and deterministic (derandomize: the same inputs every run).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.server import ServerGroup

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_group() -> Iterator[ServerGroup]:
    group = ServerGroup()
    try:
        group.add_server()
        yield group
    finally:
        group.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_group: ServerGroup):
    url = f"{fuzz_group.servers[0].url}/api/schema?format=json"
    return schemathesis.openapi.from_url(url, timeout=15)


@pytest.fixture(scope="module")
def admin_headers(fuzz_group: ServerGroup) -> dict[str, str]:
    return {"Authorization": f"Bearer {fuzz_group.admin_key}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_within_its_schema(api_schema, fuzz_group, admin_headers, mode):
    base_url = fuzz_group.servers[0].url
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 6, "the schema lost operations"
    for operation in operations:

        @FUZZ_SETTINGS
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def call(case):
            case.call_and_validate(
                base_url=base_url, headers=admin_headers, checks=CHECKS, timeout=15
            )

        call()
    log = fuzz_group.servers[0].log_path.read_text(errors="replace")
    assert "Traceback" not in log, fuzz_group.servers[0].log_tail(80)


def _delete_every_flag(base_url: str, headers: dict[str, str]) -> None:
    """Every sequence starts from no flags: the same inputs then get the same answers, which
    Hypothesis needs to replay a sequence and the links between calls depend on."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=15) as client:
        for flag in client.get("/api/flags").json():
            client.delete(f"/api/flags/{quote(flag['key'], safe='')}")


def test_sequences_of_calls_stay_within_the_schema(fuzz_group, admin_headers):
    base_url = fuzz_group.servers[0].url
    api_schema = schemathesis.openapi.from_url(f"{base_url}/api/schema?format=json", timeout=15)
    # Valid inputs only: the links feed one call's answer into the next, and invalid ones are
    # what the test above sends to every operation.
    api_schema.config.generation.update(modes=[GenerationMode.POSITIVE])

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):
            return {"base_url": base_url, "headers": admin_headers, "timeout": 15}

        def validate_response(self, response, case, **kwargs):
            case.validate_response(response, checks=CHECKS)

        def teardown(self):
            _delete_every_flag(base_url, admin_headers)

    server = fuzz_group.servers[0]
    _delete_every_flag(base_url, admin_headers)
    run_state_machine_as_test(
        Workflow,
        # Generation only: a step's inputs come from the live server's earlier answers, so a
        # replay (shrinking) would draw differently and Hypothesis would call the strategy flaky.
        settings=hypothesis.settings(
            FUZZ_SETTINGS, max_examples=25, stateful_step_count=6, phases=[Phase.generate]
        ),
    )
    assert "Traceback" not in server.log_path.read_text(errors="replace"), server.log_tail(80)
