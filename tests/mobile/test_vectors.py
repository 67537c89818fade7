"""Every shared vector file, run through the Flutter binding's C calls and conversions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.mobile import abi_check
from tests.mobile.ffi_store import FfiFlagStore, FlagFormatError
from tests.mobile.native_library import NativeApi

VECTORS = abi_check.ROOT / "tests" / "vectors"
HASH_FILE = VECTORS / "hash.json"
# typed/ holds ABI version 2 (typed flags) cases; this harness drives the version 1 builder, as
# the Dart bindings do, until the mobile part of the typed-flags work binds version 2.
# stream/ pins the stream client, not the core (tests/mobile/test_stream_twin.py runs it).
CASE_FILES = sorted(
    p
    for p in VECTORS.rglob("*.json")
    if p != HASH_FILE and p.relative_to(VECTORS).parts[0] not in ("typed", "stream")
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
                store.upsert(operation["flag"])
            assert caught.value.path == operation["error"], f"{name}: {caught.value}"
            assert len(store) == count, name
            assert {k: store.version(k) for k in _keys(case)} == flags, name
            applied.append(None)
        elif op == "upsert":
            applied.append(store.upsert(operation["flag"]))
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
        attributes = expected.get("attributes")
        flag, user = expected["flag"], expected["user_key"]
        got = store.evaluate(flag, user, attributes)
        want = (
            expected["enabled"],
            expected["reason"],
            expected["rule_index"],
            expected["bucket"],
            expected["version"],
        )
        assert tuple(got) == want, f"{name}: {flag}/{user} {attributes!r}"
        assert store.is_enabled(flag, user, attributes) is expected["enabled"], name
        assert store.evaluate_by_handle(flag, user, attributes) == (expected["enabled"], got), name


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
