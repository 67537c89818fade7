"""FlagStore's Python surface, the same in both cores: writes, reads, errors, odd input."""

from __future__ import annotations

import sys
from collections import OrderedDict
from types import ModuleType
from typing import Any

import pytest


def make_flag(key: str = "dark_mode", **fields: Any) -> dict[str, Any]:
    return {"key": key, "is_enabled": True, "rollout_percentage": None, "rules": []} | fields


def test_reads_return_the_wire_dict_with_unknown_fields(core: ModuleType) -> None:
    store = core.FlagStore()
    flag = make_flag(description="Dark mode", version=3, owner={"team": "web"})
    assert store.upsert(flag) is True
    assert store.get("dark_mode") == flag
    assert store.get("missing") is None
    assert store.flags() == [flag]
    assert len(store) == 1
    assert "dark_mode" in store
    assert "missing" not in store
    assert 5 not in store


def test_the_store_keeps_its_own_copy(core: ModuleType) -> None:
    store = core.FlagStore()
    flag = make_flag(rules=[{"attribute": "plan", "operator": "Equals", "values": ["pro"]}])
    store.upsert(flag)
    flag["is_enabled"] = False
    flag["rules"][0]["values"].append("free")
    assert store.get("dark_mode") == make_flag(
        rules=[{"attribute": "plan", "operator": "Equals", "values": ["pro"]}]
    )
    assert store.is_enabled("dark_mode", "u", {"plan": "pro"})
    assert store.evaluate("dark_mode", "u", {"plan": "free"}).reason == "ROLLOUT"


def test_a_stale_write_keeps_the_stored_dict(core: ModuleType) -> None:
    store = core.FlagStore()
    store.upsert(make_flag(version=4, description="new"))
    assert store.upsert(make_flag(version=3, description="old")) is False
    assert store.get("dark_mode")["description"] == "new"  # type: ignore[index]


def test_delete_and_clear_update_reads(core: ModuleType) -> None:
    store = core.FlagStore()
    store.upsert(make_flag("a", version=1))
    store.upsert(make_flag("b"))
    assert store.delete("a", version=2) is True
    assert store.get("a") is None
    assert [flag["key"] for flag in store.flags()] == ["b"]
    assert store.delete("a") is False
    store.clear()
    assert len(store) == 0
    assert store.flags() == []


def test_rules_and_values_may_be_tuples_and_mappings_any_kind(core: ModuleType) -> None:
    store = core.FlagStore()
    rule = OrderedDict(attribute="plan", operator="Equals", values=("pro",))
    assert store.upsert(OrderedDict(key="t", is_enabled=True, rules=(rule,)))
    assert store.evaluate("t", "u", {"plan": "pro"}).rule_index == 0


@pytest.mark.parametrize(
    ("flag", "path"),
    [
        ({}, "key"),
        ({"key": None}, "key"),
        ({"key": "k" * 101}, "key"),
        ({"key": "ok", "is_enabled": "yes"}, "is_enabled"),
        ({"key": "ok", "rollout_percentage": 50.0}, "rollout_percentage"),
        ({"key": "ok", "rollout_percentage": False}, "rollout_percentage"),
        ({"key": "ok", "rules": [{}]}, "rules[0].attribute"),
        ({"key": "ok", "rules": [None]}, "rules[0]"),
        (
            {"key": "ok", "rules": [{"attribute": "a", "operator": "In", "values": []}]},
            "rules[0].operator",
        ),
        (
            {"key": "ok", "rules": [{"attribute": "a", "operator": "Equals", "values": [b"x"]}]},
            "rules[0].values[0]",
        ),
        ({"key": "ok", "version": 2**64}, "version"),
        ({"key": "ok", "version": None}, "version"),
    ],
)
def test_upsert_errors_name_the_field(core: ModuleType, flag: dict[str, Any], path: str) -> None:
    store = core.FlagStore()
    with pytest.raises(ValueError, match=r"^" + path.replace("[", r"\[").replace("]", r"\]") + ":"):
        store.upsert(flag)
    assert len(store) == 0


def test_upsert_error_messages_name_the_flag(core: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"^rollout_percentage: .*'dark_mode'"):
        core.FlagStore().upsert(make_flag(rollout_percentage=150))


def test_upsert_rejects_a_non_mapping(core: ModuleType) -> None:
    with pytest.raises(TypeError):
        core.FlagStore().upsert(["dark_mode"])


def test_versions_up_to_64_bits(core: ModuleType) -> None:
    store = core.FlagStore()
    assert store.upsert(make_flag(version=2**64 - 1))
    assert store.evaluate("dark_mode", "u").version == 2**64 - 1
    assert store.upsert(make_flag(version=2**64 - 2)) is False


@pytest.mark.parametrize("version", [-1, 2**64, "2", 1.0, None, True])
def test_delete_rejects_a_bad_version(core: ModuleType, version: object) -> None:
    with pytest.raises(ValueError, match=r"^version:"):
        core.FlagStore().delete("dark_mode", version)


ODD_ATTRIBUTES: list[Any] = [
    None,
    {},
    {1: "pro", None: "x", ("plan",): "pro", b"plan": "pro"},
    {"plan": {"nested": ["pro"]}, "tags": ["pro"], "n": None, "o": object()},
    {"plan": 10**30, "big": -(10**30), "huge": 10**5000},
    {"plan": float("nan"), "inf": float("inf"), "neg": float("-inf"), "zero": -0.0},
    {"plan": "\ud800", "\udfff": "pro", "emoji": "🚀", "ü": "ß"},
    {f"name{index}": index for index in range(100)},
    OrderedDict(plan="pro"),
]


@pytest.mark.parametrize("attributes", ODD_ATTRIBUTES)
def test_odd_attributes_never_raise(core: ModuleType, attributes: Any) -> None:
    store = core.FlagStore()
    store.upsert(
        make_flag(
            rollout_percentage=50,
            rules=[{"attribute": "plan", "operator": "NotEquals", "values": []}],
        )
    )
    for flag_key in ("dark_mode", "missing", "", "ü", "\ud800"):
        for user_key in ("u", "", "東京", "\udc00", "x" * 10_000):
            evaluation = store.evaluate(flag_key, user_key, attributes)
            assert store.is_enabled(flag_key, user_key, attributes) is evaluation.enabled


def test_each_attribute_type_converts_as_documented(core: ModuleType) -> None:
    store = core.FlagStore()
    values = [
        "true",
        "false",
        "0",
        "-5",
        "1000000000000000000000000000000",
        "3",
        "-9007199254740991",
    ]
    store.upsert(
        make_flag(
            rollout_percentage=0, rules=[{"attribute": "a", "operator": "Equals", "values": values}]
        )
    )
    for hit in (True, False, 0, -5, 10**30, 3.0, -9007199254740991.0, -0.0, "3"):
        assert store.is_enabled("dark_mode", "u", {"a": hit}), hit
    for miss in (3.5, 2.0**53, float("nan"), None, [3], {"a": 3}, b"3", 1, "TRUE"):
        assert not store.is_enabled("dark_mode", "u", {"a": miss}), miss


def test_bool_subclasses_and_int_subclasses(core: ModuleType) -> None:
    import enum

    class Level(enum.IntEnum):
        HIGH = 7

    store = core.FlagStore()
    store.upsert(
        make_flag(
            rollout_percentage=0, rules=[{"attribute": "a", "operator": "Equals", "values": ["7"]}]
        )
    )
    assert store.is_enabled("dark_mode", "u", {"a": Level.HIGH})


def test_str_subclasses_are_strings(core: ModuleType) -> None:
    class Name(str):
        pass

    store = core.FlagStore()
    store.upsert(
        make_flag(
            rollout_percentage=0, rules=[{"attribute": "a", "operator": "Equals", "values": ["x"]}]
        )
    )
    assert store.is_enabled(Name("dark_mode"), Name("u"), {Name("a"): Name("x")})
    assert core.bucket(Name("dark_mode"), Name("u")) == core.bucket("dark_mode", "u")


def test_lone_surrogates_are_replacement_characters(core: ModuleType) -> None:
    # Like a WHATWG TextEncoder: a lone surrogate is U+FFFD, a split pair is its character.
    store = core.FlagStore()
    rule = {"attribute": "\ud800", "operator": "Equals", "values": ["\udfff", "\ud83d\ude80"]}
    store.upsert(make_flag(rollout_percentage=0, rules=[rule]))
    for value in ("\udfff", "\ufffd", "\udbff", "🚀", "\ud83d\ude80"):
        assert store.evaluate("dark_mode", "u", {"\ufffd": value}).reason == "RULE_MATCH", value
    assert not store.is_enabled("dark_mode", "u", {"\ufffd": "x\udfff"})
    # A caller's attribute name holding a lone surrogate never matches, however it is passed.
    assert not store.is_enabled("dark_mode", "u", {"\ud800": "\ufffd"})
    padded = {"\ud800": "\ufffd"} | {f"pad{index}": 1 for index in range(20)}
    assert not store.is_enabled("dark_mode", "u", padded)
    assert core.bucket("dark_mode", "\ud800x") == core.bucket("dark_mode", "\ufffdx")
    assert core.murmur3_32("a\udc00") == core.murmur3_32("a\ufffd".encode())
    assert core.murmur3_32("\ud83d\ude80") == core.murmur3_32("🚀")
    assert store.get("dark_mode")["rules"][0]["attribute"] == "\ud800"  # type: ignore[index]


def test_many_attributes_past_the_stack_buffer(core: ModuleType) -> None:
    store = core.FlagStore()
    store.upsert(
        make_flag(
            rollout_percentage=0,
            rules=[{"attribute": "n99", "operator": "Equals", "values": ["99"]}],
        )
    )
    attributes = {f"n{index}": index for index in range(100)}
    assert store.evaluate("dark_mode", "u", attributes).rule_index == 0


@pytest.mark.parametrize("bad", [None, 5, b"dark_mode"])
def test_keys_must_be_str(core: ModuleType, bad: Any) -> None:
    store = core.FlagStore()
    with pytest.raises(TypeError):
        store.is_enabled(bad, "u")
    with pytest.raises(TypeError):
        store.evaluate("dark_mode", bad)
    with pytest.raises(TypeError):
        store.delete(bad)
    with pytest.raises(TypeError):
        core.bucket(bad, "u")


def test_attributes_must_be_a_mapping(core: ModuleType) -> None:
    with pytest.raises(TypeError):
        core.FlagStore().is_enabled("dark_mode", "u", [("plan", "pro")])


def test_evaluation_is_a_named_tuple(core: ModuleType) -> None:
    store = core.FlagStore()
    store.upsert(make_flag(rollout_percentage=50, version=2))
    evaluation = store.evaluate("dark_mode", "user-1")
    assert isinstance(evaluation, core.Evaluation)
    enabled, reason, rule_index, bucket, version, value, variant = evaluation
    assert (reason, rule_index, version) == ("ROLLOUT", None, 2)
    assert bucket == core.bucket("dark_mode", "user-1")
    assert enabled is (bucket < 50)
    assert value is enabled
    assert variant == ("on" if enabled else "off")


def test_murmur3_accepts_str_and_bytes_like(core: ModuleType) -> None:
    expected = 0x248BFA47
    assert core.murmur3_32("hello") == expected
    assert core.murmur3_32(b"hello") == expected
    assert core.murmur3_32(bytearray(b"hello")) == expected
    assert core.murmur3_32(memoryview(b"hello")) == expected
    assert core.murmur3_32("", 1) == 0x514E28B7
    assert core.murmur3_32("ü") == core.murmur3_32("ü".encode())


@pytest.mark.parametrize("seed", [-1, 2**32, 1.0, "1", True])
def test_murmur3_rejects_a_bad_seed(core: ModuleType, seed: object) -> None:
    with pytest.raises(ValueError, match=r"^seed:"):
        core.murmur3_32(b"x", seed)


def test_bucket_is_the_hash_of_key_colon_user(core: ModuleType) -> None:
    for user in ("u", "", "ü", "🚀"):
        assert core.bucket("dark_mode", user) == core.murmur3_32(f"dark_mode:{user}") % 100


def test_stores_are_independent(core: ModuleType) -> None:
    first, second = core.FlagStore(), core.FlagStore()
    first.upsert(make_flag())
    assert second.evaluate("dark_mode", "u").reason == "FLAG_NOT_FOUND"
    del first
    assert len(second) == 0


def test_a_large_rule_list_evaluates(core: ModuleType) -> None:
    values = [f"user{index}@acme.com" for index in range(10_000)]
    store = core.FlagStore()
    store.upsert(
        make_flag(
            rollout_percentage=0,
            rules=[{"attribute": "email", "operator": "Equals", "values": values}],
        )
    )
    assert store.is_enabled("dark_mode", "u", {"email": "user9999@acme.com"})
    assert not store.is_enabled("dark_mode", "u", {"email": "user10000@acme.com"})
    assert sys.getrefcount(values) >= 2


@pytest.mark.parametrize("extra", [0, 5, 8, 9, 40])
def test_small_and_large_attribute_dicts_agree(core: ModuleType, extra: int) -> None:
    # Small dicts are walked, large ones have only the rules' names looked up; both must give
    # the first matching rule, also with more distinct names than fit on the stack.
    rules = [
        {"attribute": f"a{index}", "operator": "Equals", "values": ["x"]} for index in range(20)
    ]
    store = core.FlagStore()
    store.upsert(make_flag(rollout_percentage=0, rules=rules))
    for hit in (0, 7, 19):
        attributes: dict[Any, Any] = {f"pad{index}": "x" for index in range(extra)}
        attributes |= {f"a{hit}": "x", f"a{hit + 1}": "x", 3: "x", "a0": "y" if hit else "x"}
        evaluation = store.evaluate("dark_mode", "u", attributes)
        assert evaluation.rule_index == hit
        assert store.is_enabled("dark_mode", "u", attributes)
        assert store.is_enabled("dark_mode", "u", OrderedDict(attributes))
    attributes = {f"pad{index}": "x" for index in range(extra)}
    assert store.evaluate("dark_mode", "u", attributes).reason == "ROLLOUT"
    assert not store.is_enabled("dark_mode", "u", attributes)


def test_large_attribute_dicts_for_flags_without_rules(core: ModuleType) -> None:
    store = core.FlagStore()
    store.upsert(make_flag(rollout_percentage=50))
    attributes = {f"name{index}": index for index in range(50)}
    for user in ("u1", "u2", "u3"):
        expected = core.bucket("dark_mode", user) < 50
        assert store.is_enabled("dark_mode", user, attributes) is expected
    store.upsert(
        make_flag(
            rollout_percentage=0,
            rules=[{"attribute": "name7", "operator": "Equals", "values": ["7"]}],
        )
    )
    assert store.is_enabled("dark_mode", "u1", attributes)
    store.delete("dark_mode")
    assert not store.is_enabled("dark_mode", "u1", attributes)


def test_a_key_whose_eq_rewrites_the_store_mid_evaluation(core: ModuleType) -> None:
    # Looking the rules' names up in a large dict can run a caller key's __eq__ (Python code),
    # which may write to the store before the C core runs; nothing may crash or be freed early.
    store = core.FlagStore()
    rules = [{"attribute": "a0", "operator": "Equals", "values": ["x"]}]
    store.upsert(make_flag(rollout_percentage=0, rules=rules, version=1))

    class Meddler:
        def __hash__(self) -> int:
            return hash("a0")

        def __eq__(self, other: object) -> bool:
            store.upsert(make_flag(rollout_percentage=0, rules=rules * 2, version=store_version()))
            return False

    versions = iter(range(2, 100))

    def store_version() -> int:
        return next(versions)

    attributes: dict[Any, Any] = {Meddler(): "x"} | {f"pad{index}": 1 for index in range(20)}
    assert store.is_enabled("dark_mode", "u", attributes) is False
    assert store.evaluate("dark_mode", "u", attributes).reason == "ROLLOUT"
    assert store.get("dark_mode")["version"] >= 2  # type: ignore[index]
