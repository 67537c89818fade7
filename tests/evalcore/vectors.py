"""Loads the shared vectors in tests/vectors/ and replays a case against an implementation."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@cache
def load(relative: str) -> dict[str, Any]:
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


def evaluation_files(folder: str) -> list[str]:
    return sorted(str(path.relative_to(VECTORS)) for path in (VECTORS / folder).glob("*.json"))


def replay(core: ModuleType, case: dict[str, Any]) -> None:
    """Runs the case's operations on a fresh store and checks every stated outcome."""
    store = core.FlagStore()
    applied: list[bool | None] = []
    for number, operation in enumerate(case["operations"]):
        where = f"{case['name']}: operation {number}"
        if operation["op"] == "upsert" and "error" in operation:
            before = [(flag["key"], flag.get("version")) for flag in store.flags()]
            with pytest.raises(ValueError) as raised:
                store.upsert(operation["flag"])
            message = str(raised.value)
            assert message.startswith(operation["error"] + ":"), f"{where}: {message!r}"
            after = [(flag["key"], flag.get("version")) for flag in store.flags()]
            assert after == before, f"{where}: a rejected upsert changed the store"
            applied.append(None)
        elif operation["op"] == "upsert":
            applied.append(store.upsert(operation["flag"]))
        elif operation["op"] == "delete":
            applied.append(store.delete(operation["key"], operation.get("version", 0)))
        else:
            assert operation["op"] == "clear", where
            store.clear()
            applied.append(None)
    if "applied" in case:
        assert applied == case["applied"], case["name"]
    if "count" in case:
        assert len(store) == case["count"], case["name"]
    for expected in case["evaluations"]:
        arguments = (expected["flag"], expected["user_key"], expected.get("attributes"))
        got = store.evaluate(*arguments)
        want = (
            expected["enabled"],
            expected["reason"],
            expected["rule_index"],
            expected["bucket"],
            expected["version"],
        )
        assert got[:5] == want, f"{case['name']}: {arguments}"
        if "variant" in expected:  # version 2 vectors also state what was served
            assert got.variant == expected["variant"], f"{case['name']}: {arguments}"
            assert same_json(got.value, expected["value"]), f"{case['name']}: {arguments}"
        assert store.is_enabled(*arguments) is expected["enabled"], f"{case['name']}: {arguments}"
    for getter in case.get("getters", []):
        method = getattr(store, f"get_{getter['getter']}")
        got_value = method(
            getter["flag"], getter["user_key"], getter.get("attributes"), getter["default"]
        )
        assert same_json(got_value, getter["expected"]), f"{case['name']}: {getter}"


def same_json(got: Any, want: Any) -> bool:
    """Equal as JSON values: 1 is not True, and 1 equals 1.0 only as numbers do in JSON."""
    return json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True) or (
        isinstance(got, int | float)
        and isinstance(want, int | float)
        and not isinstance(got, bool)
        and not isinstance(want, bool)
        and got == want
    )
