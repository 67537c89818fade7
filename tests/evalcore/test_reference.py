"""Re-derives every generated vector with a second evaluator and hash written only for this check.

generate.py computed the expectations with its own reference evaluator and mmh3; a mistake there
would be copied into every binding's suite. This module shares nothing with it (nor with evalcore):
MurmurHash3 is re-implemented from the algorithm, matching is done on str rather than bytes, and the
version rule is applied from its statement in sidekick.h.
"""

from __future__ import annotations

import math
from typing import Any

import mmh3
import pytest

from tests.evalcore.vectors import evaluation_files, load


def murmur3_x86_32(data: bytes, seed: int) -> int:
    mask = 0xFFFFFFFF

    def rotl(value: int, shift: int) -> int:
        return ((value << shift) | (value >> (32 - shift))) & mask

    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed
    whole = len(data) - len(data) % 4
    for offset in range(0, whole, 4):
        k = int.from_bytes(data[offset : offset + 4], "little")
        k = rotl((k * c1) & mask, 15) * c2 & mask
        h = (rotl(h ^ k, 13) * 5 + 0xE6546B64) & mask
    tail = data[whole:]
    if tail:
        k = int.from_bytes(tail, "little")
        h ^= rotl((k * c1) & mask, 15) * c2 & mask
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    return h ^ (h >> 16)


def scalar_values(text: str) -> str:
    """Each surrogate code point as U+FFFD. Strings parsed from JSON hold no split pairs (the
    parser joins them), so this is what a WHATWG TextEncoder would make of them."""
    return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)


def as_text(value: Any) -> str | None:
    if value is True or value is False:
        return str(value).lower()
    if type(value) is str:
        return scalar_values(value)
    if type(value) is int:
        return f"{value:d}"
    if type(value) is float and not math.isnan(value) and -(2**53) < value < 2**53:
        return f"{value:.0f}" if value == int(value) else None
    return None


def rule_hits(operator: str, values: list[str], text: str) -> bool:
    checks = {
        "Equals": lambda value: text == value,
        "NotEquals": lambda value: text != value,
        "Contains": lambda value: value in text,
        "StartsWith": lambda value: text[: len(value)] == value,
        "EndsWith": lambda value: (
            len(value) <= len(text) and text[len(text) - len(value) :] == value
        ),
    }
    if operator == "NotEquals":
        return all(map(checks[operator], values))
    return any(map(checks[operator], values))


def expected_evaluation(
    flag: dict[str, Any] | None, flag_key: str, user_key: str, attributes: Any
) -> tuple[Any, ...]:
    if flag is None:
        return (False, "FLAG_NOT_FOUND", None, None, None)
    version = flag.get("version", 0)
    if flag.get("is_enabled") is not True:
        return (False, "OFF", None, None, version)
    present = {name: as_text(value) for name, value in (attributes or {}).items()}
    for index, rule in enumerate(flag.get("rules", [])):
        text = present.get(rule["attribute"])
        values = [scalar_values(value) for value in rule["values"]]
        if text is not None and rule_hits(rule["operator"], values, text):
            return (True, "RULE_MATCH", index, None, version)
    rollout = flag.get("rollout_percentage")
    if rollout in (None, 100):
        return (True, "ROLLOUT", None, None, version)
    if rollout == 0:
        return (False, "ROLLOUT", None, None, version)
    joined = scalar_values(flag_key + ":" + user_key)
    user_bucket = murmur3_x86_32(joined.encode("utf-8"), 0) % 100
    return (user_bucket < rollout, "ROLLOUT", None, user_bucket, version)


def replay_expectations(case: dict[str, Any]) -> None:
    stored: dict[str, dict[str, Any]] = {}
    deleted: dict[str, int] = {}  # key -> newest versioned delete seen while absent or applied
    outcomes: list[bool | None] = []

    def held(key: str) -> int:
        return stored[key].get("version", 0) if key in stored else deleted.get(key, 0)

    for operation in case["operations"]:
        kind = operation["op"]
        if kind == "clear":
            stored, deleted = {}, {}
            outcomes.append(None)
        elif "error" in operation:
            outcomes.append(None)
        elif kind == "upsert":
            flag = operation["flag"]
            newer = (
                not flag.get("version")
                or not held(flag["key"])
                or flag["version"] > held(flag["key"])
            )
            if newer:
                stored[flag["key"]] = flag
                deleted.pop(flag["key"], None)
            outcomes.append(newer)
        else:
            key, version = operation["key"], operation.get("version", 0)
            was_there = key in stored
            newer = not version or not held(key) or version > held(key)
            if was_there and newer:
                del stored[key]
            if version and (newer or not was_there):
                deleted[key] = max(version, deleted.get(key, 0))
            outcomes.append(was_there and newer)
    assert outcomes == case["applied"], case["name"]
    assert len(stored) == case["count"], case["name"]
    for evaluation in case["evaluations"]:
        got = expected_evaluation(
            stored.get(evaluation["flag"]),
            evaluation["flag"],
            evaluation["user_key"],
            evaluation.get("attributes"),
        )
        fields = ("enabled", "reason", "rule_index", "bucket", "version")
        assert got == tuple(evaluation[field] for field in fields), (case["name"], evaluation)


@pytest.mark.parametrize("name", evaluation_files("generated") + evaluation_files("evaluation"))
def test_expectations_agree_with_the_second_reference(name: str) -> None:
    for case in load(name)["cases"]:
        replay_expectations(case)


def test_hash_vectors_agree_with_mmh3_and_the_second_murmur() -> None:
    for case in load("hash.json")["cases"]:
        data = bytes.fromhex(case["input_hex"])
        assert mmh3.hash(data, case["seed"], signed=False) == case["expected"], case["name"]
        assert murmur3_x86_32(data, case["seed"]) == case["expected"], case["name"]


def test_hash_vectors_cover_every_tail_and_the_published_seeds() -> None:
    cases = load("hash.json")["cases"]
    lengths = {len(case["input_hex"]) // 2 for case in cases}
    assert set(range(17)) <= lengths
    assert {0, 1, 0xFFFFFFFF} <= {case["seed"] for case in cases}
    assert {"input_hex": "", "seed": 0, "expected": 0}.items() <= cases[0].items()
