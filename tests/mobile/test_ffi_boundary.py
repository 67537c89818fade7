"""The C functions the Dart bindings declare, called through those declarations from ctypes."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import mmh3
import pytest

from tests.mobile import abi_check
from tests.mobile.ffi_store import FfiFlagStore, FlagFormatError
from tests.mobile.native_library import NativeApi

STATUS_NAMES = {
    0: "SK_OK",
    1: "SK_IGNORED_STALE",
    -1: "SK_ERR_NOMEM",
    -2: "SK_ERR_INVALID_ARGUMENT",
    -3: "SK_ERR_BAD_KEY",
    -4: "SK_ERR_BAD_ROLLOUT",
    -5: "SK_ERR_BAD_OPERATOR",
    -6: "SK_ERR_BAD_ATTRIBUTE",
    -7: "SK_ERR_TOO_MANY_RULES",
    -8: "SK_ERR_TOO_MANY_VALUES",
    -9: "SK_ERR_NO_RULE",
    -10: "SK_ERR_NOT_FOUND",
}
OPERATORS = ["Equals", "NotEquals", "Contains", "StartsWith", "EndsWith"]


def new_flag(
    api: NativeApi, key: bytes, *, enabled: bool = True, rollout: int = -1, version: int = 0
) -> int:
    out = ctypes.c_void_p()
    status = api.sk_flag_new(key, len(key), enabled, rollout, version, ctypes.byref(out))
    assert status == 0, STATUS_NAMES[status]
    assert out.value
    return out.value


def test_the_library_exports_exactly_the_header_and_dart_binds_all_of_it(
    library_path: Path, api: NativeApi
) -> None:
    nm = shutil.which("nm")
    assert nm is not None
    listing = subprocess.run(
        [nm, "-D", "--defined-only", str(library_path)], check=True, capture_output=True, text=True
    ).stdout
    exported = {line.split()[-1] for line in listing.splitlines() if line.split()}
    declared = set(abi_check.parse_header(abi_check.HEADER.read_text()))
    assert {name for name in exported if name.startswith("sk_")} == declared
    # Hidden visibility: nothing private leaks out of the shared library.
    assert exported == declared
    assert set(api.bound) == declared - abi_check.PENDING_DART_FUNCTIONS


def test_abi_version_matches_the_header(api: NativeApi) -> None:
    assert api.sk_abi_version() == abi_check.header_abi_version(abi_check.HEADER.read_text())


def test_status_and_reason_names(api: NativeApi) -> None:
    for status, name in STATUS_NAMES.items():
        assert api.sk_status_name(status) == name.encode()
    assert api.sk_status_name(-99) == b"SK_UNKNOWN"
    assert api.sk_status_name(2) == b"SK_UNKNOWN"
    reasons = [b"FLAG_NOT_FOUND", b"OFF", b"RULE_MATCH", b"ROLLOUT"]
    for reason, reason_name in enumerate(reasons):
        assert api.sk_reason_name(reason) == reason_name
    assert api.sk_reason_name(4) == b"UNKNOWN"
    assert api.sk_reason_name(-1) == b"UNKNOWN"


def test_operator_names_parse_exactly(api: NativeApi) -> None:
    for value, name in enumerate(OPERATORS):
        assert api.sk_operator_parse(name.encode(), len(name)) == value
    for bad in [b"equals", b"GreaterThan", b"", b"Equals ", b"Equal"]:
        assert api.sk_operator_parse(bad, len(bad)) == -1
    # Explicit lengths: a prefix of a longer buffer is what counts.
    assert api.sk_operator_parse(b"EqualsXYZ", 6) == 0


def test_murmur_and_bucket_against_mmh3(api: NativeApi) -> None:
    assert api.sk_murmur3_32(None, 0, 0) == 0
    assert api.sk_murmur3_32(None, 0, 1) == 0x514E28B7
    for text in [b"a", b"ab", b"abc", b"abcd", b"abcde", "caf\u00e9 \U0001f600".encode(), b"\0x"]:
        for seed in [0, 1, 0xFFFFFFFF]:
            expected = mmh3.hash(text, seed, signed=False)
            assert api.sk_murmur3_32(text, len(text), seed) == expected
    for flag, user in [(b"dark_mode", b"user-1"), (b"x", b""), (b"k.v-1", "\u00fc".encode())]:
        expected = mmh3.hash(flag + b":" + user, 0, signed=False) % 100
        assert api.sk_bucket(flag, len(flag), user, len(user)) == expected


def test_flag_new_errors_set_out_to_null(api: NativeApi) -> None:
    cases = [
        (b"", -1, -3),
        (b"_x", -1, -3),
        (b"a" * 101, -1, -3),
        (b"ok", 101, -4),
        (b"ok", -2, -4),
    ]
    for key, rollout, expected in cases:
        out = ctypes.c_void_p(1)
        assert api.sk_flag_new(key, len(key), True, rollout, 0, ctypes.byref(out)) == expected
        assert out.value is None
    out = ctypes.c_void_p(1)
    assert api.sk_flag_new(None, 3, True, -1, 0, ctypes.byref(out)) == -2
    assert api.sk_flag_new(b"ok", 2, True, -1, 0, None) == -2
    flag = new_flag(api, b"a" * 100, rollout=100, version=2**64 - 1)
    api.sk_flag_free(flag)
    api.sk_flag_free(None)


def test_rule_builder_errors_leave_the_flag_unchanged(api: NativeApi, store: FfiFlagStore) -> None:
    flag = new_flag(api, b"built", rollout=0)
    assert api.sk_flag_add_value(flag, b"v", 1) == -9  # no rule yet
    assert api.sk_flag_add_rule(None, b"a", 1, 0) == -2
    assert api.sk_flag_add_rule(flag, b"", 0, 0) == -6
    assert api.sk_flag_add_rule(flag, b"plan", 4, 12) == -5  # 12: past SemverLt, ABI 2's last
    assert api.sk_flag_add_rule(flag, b"plan", 4, -1) == -5
    assert api.sk_flag_add_rule(flag, None, 2, 0) == -2
    assert api.sk_flag_add_rule(flag, b"plan", 4, 0) == 0
    assert api.sk_flag_add_value(flag, None, 1) == -2
    assert api.sk_flag_add_value(None, b"v", 1) == -2
    assert api.sk_flag_add_value(flag, b"pro", 3) == 0
    for index in range(99):
        attribute = f"a{index}".encode()
        assert api.sk_flag_add_rule(flag, attribute, len(attribute), 0) == 0
    assert api.sk_flag_add_rule(flag, b"one-too-many", 12, 0) == -7
    assert api.sk_store_upsert(store.store, flag) == 0
    built = store.evaluate("built", "u", {"plan": "pro"})
    assert (built.enabled, built.reason, built.rule_index) == (True, "RULE_MATCH", 0)
    assert store.evaluate("built", "u", {"one-too-many": ""}).enabled is False


def test_values_per_rule_are_capped(api: NativeApi) -> None:
    flag = new_flag(api, b"many")
    assert api.sk_flag_add_rule(flag, b"id", 2, 0) == 0
    for index in range(10_000):
        value = str(index).encode()
        assert api.sk_flag_add_value(flag, value, len(value)) == 0
    assert api.sk_flag_add_value(flag, b"x", 1) == -8
    assert api.sk_flag_add_value(flag, b"", 0) == -8
    api.sk_flag_free(flag)


def test_upsert_takes_the_flag_on_every_path(api: NativeApi, store: FfiFlagStore) -> None:
    assert api.sk_store_upsert(store.store, new_flag(api, b"owned", version=5)) == 0
    # Stale: the store takes and frees the incoming flag and keeps what it had.
    stale = new_flag(api, b"owned", enabled=False, version=5)
    assert api.sk_store_upsert(store.store, stale) == 1
    older = new_flag(api, b"owned", enabled=False, version=4)
    assert api.sk_store_upsert(store.store, older) == 1
    owned = store.evaluate("owned", "u")
    assert (owned.enabled, owned.reason, owned.rule_index, owned.bucket, owned.version) == (
        True,
        "ROLLOUT",
        None,
        None,
        5,
    )
    # A NULL store is an error, and the flag is still taken (freed), never left to the caller.
    assert api.sk_store_upsert(None, new_flag(api, b"orphan")) == -2
    assert api.sk_store_upsert(store.store, None) == -2
    # Unversioned writes always apply.
    assert api.sk_store_upsert(store.store, new_flag(api, b"owned", enabled=False)) == 0
    assert store.evaluate("owned", "u").reason == "OFF"
    assert store.version("owned") == 0
    assert len(store) == 1


def test_remove_versions_and_tombstones(api: NativeApi, store: FfiFlagStore) -> None:
    assert store.upsert({"key": "gone", "is_enabled": True, "version": 3})
    remove = api.sk_store_remove
    assert remove(store.store, b"gone", 4, 3) == 1  # as old as the stored flag: stale
    assert remove(store.store, b"gone", 4, 4) == 0
    assert remove(store.store, b"gone", 4, 5) == -10  # nothing stored, tombstone kept at 5
    assert store.upsert({"key": "gone", "is_enabled": True, "version": 5}) is False
    assert store.upsert({"key": "gone", "is_enabled": True, "version": 6}) is True
    assert remove(store.store, b"gone", 4, 0) == 0  # unconditional
    assert remove(None, b"gone", 4, 0) == -2
    assert remove(store.store, None, 3, 0) == -2
    assert store.upsert({"key": "gone", "is_enabled": True, "version": 7})
    store.clear()
    assert len(store) == 0
    # clear() forgets tombstones too.
    assert remove(store.store, b"tomb", 4, 9) == -10
    store.clear()
    assert store.upsert({"key": "tomb", "is_enabled": True, "version": 1})
    assert store.version("tomb") == 1
    assert store.version("absent") == 0


def test_null_handles_never_crash(api: NativeApi) -> None:
    assert api.sk_store_new(2) is None
    assert api.sk_store_new(-1) is None
    concurrent = api.sk_store_new(1)
    assert concurrent
    api.sk_store_free(concurrent)
    api.sk_store_free(None)
    assert api.sk_store_count(None) == 0
    assert api.sk_store_is_enabled(None, b"f", 1, b"u", 1, None, 0) == 0
    evaluation = api.structs["SkEvaluation"](7, 3, 1, 1, 1)
    status = api.sk_store_evaluate(None, b"f", 1, b"u", 1, None, 0, ctypes.byref(evaluation))
    assert status == -2
    assert (evaluation.reason, evaluation.enabled, evaluation.version) == (0, 0, 0)


def test_evaluation_with_bad_pointers_answers_false(api: NativeApi, store: FfiFlagStore) -> None:
    assert store.upsert({"key": "on", "is_enabled": True})
    assert api.sk_store_is_enabled(store.store, b"on", 2, b"u", 1, None, 0) == 1
    assert api.sk_store_is_enabled(store.store, None, 2, b"u", 1, None, 0) == 0
    assert api.sk_store_is_enabled(store.store, b"on", 2, None, 1, None, 0) == 0
    assert api.sk_store_is_enabled(store.store, b"on", 2, b"u", 1, None, 1) == 0
    evaluation = api.structs["SkEvaluation"]()
    status = api.sk_store_evaluate(
        store.store, b"on", 2, None, 1, None, 0, ctypes.byref(evaluation)
    )
    assert status == -2
    assert evaluation.reason == 0


def test_a_duplicated_attribute_name_counts_once(store: FfiFlagStore) -> None:
    rule = {"attribute": "plan", "operator": "Equals", "values": ["pro"]}
    assert store.upsert(
        {"key": "dup", "is_enabled": True, "rollout_percentage": 0, "rules": [rule]}
    )
    attribute = store.api.structs["SkAttribute"]
    array = (attribute * 2)(attribute(b"plan", 4, b"free", 4), attribute(b"plan", 4, b"pro", 3))
    assert store.api.sk_store_is_enabled(store.store, b"dup", 3, b"u", 1, array, 2) == 0


def test_a_rejected_wire_flag_changes_nothing(store: FfiFlagStore) -> None:
    assert store.upsert({"key": "keep", "is_enabled": True, "version": 1})
    bad = {"key": "keep", "is_enabled": True, "version": 2, "rules": [{"attribute": "a"}]}
    with pytest.raises(FlagFormatError) as caught:
        store.upsert(bad)
    assert caught.value.path == "rules[0].operator"
    assert store.version("keep") == 1
    assert len(store) == 1


def test_evaluation_by_handle(api: NativeApi, store: FfiFlagStore) -> None:
    rule = {"attribute": "plan", "operator": "Equals", "values": ["pro"]}
    assert store.upsert(
        {"key": "handle", "is_enabled": True, "rollout_percentage": 30, "version": 4}
    )
    assert store.upsert(
        {"key": "ruled", "is_enabled": True, "rollout_percentage": 0, "rules": [rule]}
    )
    for user in [f"user-{n}" for n in range(50)]:
        for key, attributes in [("handle", None), ("ruled", {"plan": "pro"}), ("ruled", None)]:
            expected = store.evaluate(key, user, attributes)
            assert store.evaluate_by_handle(key, user, attributes) == (expected.enabled, expected)
    missing = store.evaluate("absent", "u")
    assert missing.reason == "FLAG_NOT_FOUND"
    assert store.evaluate_by_handle("absent", "u") == (False, missing)
    find = api.sk_store_find
    assert find(store.store, b"handle", 6)
    assert find(store.store, b"absent", 6) is None
    assert find(None, b"handle", 6) is None
    assert find(store.store, None, 6) is None
    assert store.delete("handle", 5)
    assert find(store.store, b"handle", 6) is None  # a tombstone is not a flag
    concurrent = api.sk_store_new(1)
    flag = new_flag(api, b"shared")
    assert api.sk_store_upsert(concurrent, flag) == 0
    assert find(concurrent, b"shared", 6) is None  # never handed out by a concurrent store
    api.sk_store_free(concurrent)


def test_evaluation_by_handle_rejects_bad_arguments(api: NativeApi) -> None:
    evaluation = api.structs["SkEvaluation"](9, 3, 1, 1, 1)
    assert api.sk_flag_evaluate(None, b"u", 1, None, 0, ctypes.byref(evaluation)) == 0
    assert (evaluation.reason, evaluation.enabled, evaluation.version) == (0, 0, 0)
    assert api.sk_flag_is_enabled(None, b"u", 1, None, 0) == 0
    loose = new_flag(api, b"loose")  # never handed to a store
    evaluation = api.structs["SkEvaluation"](9, 3, 1, 1, 1)
    assert api.sk_flag_evaluate(loose, b"u", 1, None, 0, ctypes.byref(evaluation)) == -2
    assert evaluation.reason == 0
    assert api.sk_flag_is_enabled(loose, b"u", 1, None, 0) == 0
    assert api.sk_flag_evaluate(loose, b"u", 1, None, 0, None) == -2
    api.sk_flag_free(loose)
