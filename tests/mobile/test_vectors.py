"""Every shared vector file, run through the Flutter binding's C calls and conversions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.mobile import abi_check
from tests.mobile.ffi_store import FfiFlagStore, FlagFormatError, dart_value
from tests.mobile.native_library import NativeApi

VECTORS = abi_check.ROOT / "tests" / "vectors"
HASH_FILE = VECTORS / "hash.json"
# stream/ pins the stream client, not the core (tests/mobile/test_stream_twin.py runs it).
STREAM_VECTORS = VECTORS / "stream"
CASE_FILES = sorted(
    p for p in VECTORS.rglob("*.json") if p != HASH_FILE and STREAM_VECTORS not in p.parents
)


def test_every_vector_file_is_run() -> None:
    """A new vector file is picked up without touching this suite, and none is skipped."""
    assert HASH_FILE.is_file()
    assert CASE_FILES, "no evaluation vectors found"
    for path in CASE_FILES:
        assert "cases" in json.loads(path.read_text()), path


def test_hash_vectors(api: NativeApi) -> None:
    cases = json.loads(HASH_FILE.read_text())["cases"]
    assert cases
    for case in cases:
        data = bytes.fromhex(case["input_hex"])
        assert api.sk_murmur3_32(data, len(data), case["seed"]) == case["expected"], case["name"]


def run_case(store: FfiFlagStore, case: dict[str, Any]) -> None:
    name = case["name"]
    applied: list[bool | None] = []
    for operation in case["operations"]:
        op = operation["op"]
        if op == "upsert" and "error" in operation:
            count, flags = len(store), {k: store.version(k) for k in _keys(case)}
            with pytest.raises(FlagFormatError) as caught:
                store.upsert(dart_value(operation["flag"]))
            assert caught.value.path == operation["error"], f"{name}: {caught.value}"
            assert len(store) == count, name
            assert {k: store.version(k) for k in _keys(case)} == flags, name
            applied.append(None)
        elif op == "upsert":
            applied.append(store.upsert(dart_value(operation["flag"])))
        elif op == "delete":
            applied.append(store.delete(operation["key"], operation.get("version", 0)))
        elif op == "clear":
            store.clear()
            applied.append(None)
        else:
            raise AssertionError(f"{name}: unknown op {op!r}")
    if "applied" in case:
        assert applied == case["applied"], name
    if "count" in case:
        assert len(store) == case["count"], name
    for expected in case.get("evaluations", []):
        attributes = dart_value(expected.get("attributes"))
        flag, user = expected["flag"], expected["user_key"]
        got = store.evaluate(flag, user, attributes)
        where = f"{name}: {flag}/{user} {attributes!r}"
        want = (
            expected["enabled"],
            expected["reason"],
            expected["rule_index"],
            expected["bucket"],
            expected["version"],
        )
        assert (got.enabled, got.reason, got.rule_index, got.bucket, got.version) == want, where
        # Version 2 files (typed/) also state the served variant and its value (as JSON).
        if "variant" in expected:
            assert got.variant == expected["variant"], where
        if "value" in expected:
            assert same_json(got.value, dart_value(expected["value"])), f"{where}: {got.value!r}"
        assert store.is_enabled(flag, user, attributes) is expected["enabled"], where
        assert store.evaluate_by_handle(flag, user, attributes)[1] == got, where
    for getter in case.get("getters", []):
        call = getattr(store, f"get_{getter['getter']}")
        attributes = dart_value(getter.get("attributes"))
        default = dart_value(getter["default"])
        got = call(getter["flag"], getter["user_key"], default, attributes)
        assert same_json(got, dart_value(getter["expected"])), f"{name}: {getter} gave {got!r}"


def same_json(a: object, b: object) -> bool:
    """_sameJson() in vectors_test.dart: booleans never equal numbers, numbers by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[key], b[key]) for key in a)
    return type(a) is type(b) and a == b


def _keys(case: dict[str, Any]) -> set[str]:
    keys = set()
    for operation in case["operations"]:
        flag = operation.get("flag")
        if isinstance(flag, dict) and isinstance(flag.get("key"), str):
            keys.add(flag["key"])
    return keys


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_vector_file(api: NativeApi, path: Path) -> None:
    cases = json.loads(path.read_text())["cases"]
    assert cases
    for case in cases:
        store = FfiFlagStore(api)
        try:
            run_case(store, case)
        finally:
            store.close()
