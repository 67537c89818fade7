"""50 concurrent PATCHes of one flag on real PostgreSQL equal some serial order of them."""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from flags import services
from flags.exceptions import FlagNotFound
from flags.models import ChangeRecord
from flags.selectors import flag_get_wire, flag_list_wire
from tests.flags.conftest import client_for, in_default_environment

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 50
INITIAL = {
    "key": "contended",
    "is_enabled": False,
    "rollout_percentage": 0,
    "description": "start",
    "rules": [],
}


def patch_for(index: int) -> dict[str, Any]:
    """Each writer changes a different field, with a value only it uses."""
    field = index % 4
    if field == 0:
        return {"description": f"writer {index}"}
    if field == 1:
        return {"rollout_percentage": index}
    if field == 2:
        return {"is_enabled": index % 8 == 2}
    return {"rules": [{"attribute": "writer", "operator": "Equals", "values": [str(index)]}]}


def test_concurrent_patches_equal_a_serial_order(postgres_required, keys, published) -> None:
    services.flag_upsert(data=INITIAL, actor="test")
    barrier = threading.Barrier(WRITERS)

    def write(index: int) -> tuple[int, int, dict[str, Any]]:
        client = client_for(keys["admin"])
        try:
            barrier.wait(timeout=60)
            body = json.dumps(patch_for(index))
            response = client.patch("/api/flags/contended", body, content_type="application/json")
            return index, response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(pool.map(write, range(WRITERS)))

    assert [status for _, status, _ in results] == [200] * WRITERS, results
    versions = sorted(body["version"] for _, _, body in results)
    assert versions == list(range(2, WRITERS + 2))

    # Replaying the patches in the order the database serialised them gives the final state,
    # and every response is exactly the state after its own patch in that order.
    state = {name: value for name, value in INITIAL.items() if name != "key"}
    for index, _, body in sorted(results, key=lambda result: result[2]["version"]):
        state.update(patch_for(index))
        assert {name: body[name] for name in state} == state
    final = flag_get_wire(key="contended")
    assert final is not None
    assert final["version"] == WRITERS + 1
    assert {name: final[name] for name in state} == state

    # The audit log is one unbroken chain: each record's "before" is the previous "after".
    records = list(
        in_default_environment(ChangeRecord).filter(flag_key="contended").order_by("version")
    )
    assert [record.version for record in records] == list(range(1, WRITERS + 2))
    for previous, record in itertools.pairwise(records):
        assert record.before == previous.after
    assert sorted(event["flag"]["version"] for event in published[1:]) == versions


def test_concurrent_creates_of_one_key_make_one_flag(postgres_required, keys) -> None:
    barrier = threading.Barrier(10)

    def create(index: int) -> int:
        client = client_for(keys["admin"])
        try:
            barrier.wait(timeout=60)
            body = json.dumps({"key": "raced", "rollout_percentage": index})
            return client.post("/api/flags", body, content_type="application/json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(create, range(10)))
    assert statuses == [200] * 9 + [201]
    final = flag_get_wire(key="raced")
    assert final is not None and final["version"] == 10


def test_concurrent_creates_replaces_and_deletes_never_deadlock(postgres_required) -> None:
    """Writers racing on a few keys: creates, whole replaces and deletes (each touches every
    environment's revision) all succeed, and the versions end where the records say."""
    failures: list[BaseException] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(40):
                key = f"race_{rng.randrange(8)}"
                if rng.random() < 0.15:
                    with contextlib.suppress(FlagNotFound):
                        services.flag_delete(key=key, actor="t")
                else:
                    body = {"key": key, "is_enabled": rng.random() < 0.5}
                    services.flag_upsert(data=body, actor="t")
        except BaseException as error:  # collected: the assertion below names it
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    for flag in flag_list_wire():
        newest = (
            in_default_environment(ChangeRecord)
            .filter(flag_key=flag["key"])
            .order_by("-id")
            .first()
        )
        assert newest is not None and newest.version == flag["version"]
