"""Typed flags through the Flutter binding's calls: what the vectors do not pin on their own.

The Dart FlagStore keeps each flag's variant values beside the native store; these tests check
that map follows the core's decisions (stale writes, deletes, rejected flags), that the getters
never raise, and that the Python twin still makes the Dart builder's C calls in the Dart order.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.mobile import abi_check
from tests.mobile.ffi_store import FfiFlagStore, FlagFormatError
from tests.mobile.native_library import NativeApi

FLAG_STORE_DART = abi_check.ROOT / "sdks" / "flutter" / "lib" / "src" / "flag_store.dart"
FFI_STORE_PY = abi_check.ROOT / "tests" / "mobile" / "ffi_store.py"


def string_flag(version: int, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": "layout",
        "type": "string",
        "is_enabled": True,
        "variants": [{"key": "only", "value": value}],
        "off_variant": "only",
        "fallthrough": {"variant": "only"},
        "version": version,
        **extra,
    }


def dart_builder_calls() -> list[str]:
    """The sk_* functions FlagStore._buildFlag and its helpers call, in source order."""
    bindings = abi_check.DART_BINDINGS.read_text()
    symbols = dict(re.findall(r"(\w+) =\s*dylib\.lookup\w*<[^(]*\(\s*'(\w+)'", bindings))
    source = FLAG_STORE_DART.read_text()
    builder = source[source.index("(Pointer<SkFlag>, _Variants) _buildFlag(") :]
    return [symbols[field] for field in re.findall(r"_native\.(\w+)\(", builder)]


def twin_builder_calls() -> list[str]:
    source = FFI_STORE_PY.read_text()
    builder = source[source.index("    def _build_flag(") :]
    return re.findall(r"self\.api\.(sk_\w+)\(", builder)


def test_the_twin_builds_flags_with_the_dart_calls_in_the_dart_order() -> None:
    dart = dart_builder_calls()
    assert "sk_flag_new_typed" in dart and "sk_flag_serve_split" in dart
    assert twin_builder_calls() == dart


def test_a_stale_upsert_keeps_the_served_values(store: FfiFlagStore) -> None:
    assert store.upsert(string_flag(2, "A"))
    assert not store.upsert(string_flag(1, "Z"))
    assert store.evaluate("layout", "u").value == "A"
    assert store.get_string("layout", "u", "default") == "A"
    assert not store.delete("layout", 1)  # older than the stored flag: kept
    assert store.get_string("layout", "u", "default") == "A"
    assert store.delete("layout", 3)
    assert store.get_string("layout", "u", "default") == "default"
    gone = store.evaluate("layout", "u")
    assert (gone.reason, gone.value, gone.variant, gone.version) == (
        "FLAG_NOT_FOUND",
        None,
        None,
        None,
    )
    # The tombstone holds: an upsert older than the delete changes nothing.
    assert not store.upsert(string_flag(3, "late"))
    assert store.get_string("layout", "u", "default") == "default"


def test_a_rejected_flag_changes_neither_the_core_nor_the_values(store: FfiFlagStore) -> None:
    assert store.upsert(string_flag(1, "A"))
    bad = string_flag(2, "B", rules=[{"attribute": "plan", "operator": "Equals", "values": []}])
    with pytest.raises(FlagFormatError) as caught:
        store.upsert(bad)
    assert caught.value.path == "rules[0].serve"
    assert store.version("layout") == 1
    assert store.get_string("layout", "u", "default") == "A"


def test_getters_answer_the_default_for_another_type_a_missing_flag_or_a_closed_store(
    api: NativeApi,
) -> None:
    store = FfiFlagStore(api)
    assert store.upsert(string_flag(1, "A"))
    assert store.upsert({"key": "beta", "is_enabled": True})
    assert store.get_number("layout", "u", 7) == 7
    assert store.get_json("layout", "u", {"d": 1}) == {"d": 1}
    assert store.get_boolean("layout", "u", True) is True
    assert store.is_enabled("layout", "u") is False
    assert store.get_boolean("beta", "u", False) is True
    assert store.get_string("beta", "u", "x") == "x"
    assert store.get_string("absent", "u", "x") == "x"
    store.close()
    assert store.get_string("layout", "u", "x") == "x"
    assert store.is_enabled("beta", "u") is False


def test_an_int_attribute_passes_its_exact_digits(store: FfiFlagStore) -> None:
    """Dart ints are exact to 2^63; a double beyond 2^53 has no text of its own."""
    digits = "9007199254740993"  # 2^53 + 1: no double holds it
    rule = {"attribute": "id", "operator": "Equals", "values": [digits], "serve": {"variant": "on"}}
    flag = {"key": "big", "is_enabled": True, "rollout_percentage": 0, "rules": [rule]}
    assert store.upsert(flag)
    assert store.evaluate("big", "u", {"id": 2**53 + 1}).reason == "RULE_MATCH"
    assert store.evaluate("big", "u", {"id": float(2**53 + 1)}).reason == "ROLLOUT"
    assert store.is_enabled("big", "u", {"id": 2**53 + 1}) is True


def test_numbers_compare_by_value_and_null_counts_as_present(store: FfiFlagStore) -> None:
    adult = {"attribute": "age", "operator": "Gte", "values": ["18"]}
    not_pro = {"attribute": "plan", "operator": "Equals", "values": ["pro"], "negate": True}
    assert store.upsert(
        {"key": "gate", "is_enabled": True, "rollout_percentage": 0, "rules": [adult, not_pro]}
    )
    assert store.evaluate("gate", "u", {"age": 18.5}).rule_index == 0
    assert store.evaluate("gate", "u", {"age": 17.9}).reason == "ROLLOUT"
    assert store.evaluate("gate", "u", {"plan": None}).rule_index == 1
    assert store.evaluate("gate", "u", {}).reason == "ROLLOUT"
