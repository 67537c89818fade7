"""Writes the machine-made shared vectors: hash.json and generated/*.json, deterministically.

Run `python tests/vectors/generate.py` from the repository root after changing it and commit the
output with it. The hash expectations come from `mmh3`; the evaluation expectations come from the
small reference evaluator below, written from the contract (docs/contract.md) alone and sharing no
code with evalcore, so a vector and an implementation can only agree by both being right. The
hand-written vectors in evaluation/ are not touched.
"""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path
from typing import Any

import mmh3

HERE = Path(__file__).resolve().parent
SEED = 20261122

# ---- the reference evaluator ------------------------------------------------------------------

OPERATORS = ("Equals", "NotEquals", "Contains", "StartsWith", "EndsWith")
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")


def reference_attribute_text(value: Any) -> str | None:
    """The string a binding hands the core for a JSON attribute value, or None when dropped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    integral = isinstance(value, float) and math.isfinite(value) and value.is_integer()
    if integral and abs(value) < 2.0**53:
        return str(int(value))
    return None


def reference_rule_matches(rule: dict[str, Any], text: str) -> bool:
    operator, values = rule["operator"], rule["values"]
    data = text.encode("utf-8")
    candidates = [value.encode("utf-8") for value in values]
    if operator == "Equals":
        return data in candidates
    if operator == "NotEquals":
        return data not in candidates
    if operator == "Contains":
        return any(candidate in data for candidate in candidates)
    if operator == "StartsWith":
        return any(data.startswith(candidate) for candidate in candidates)
    return any(data.endswith(candidate) for candidate in candidates)


def reference_answer(
    enabled: bool,
    reason: str,
    *,
    rule_index: int | None = None,
    bucket: int | None = None,
    version: int | None,
) -> dict[str, Any]:
    """An expected evaluation, its fields in the order the vector files show them."""
    return {
        "enabled": enabled,
        "reason": reason,
        "rule_index": rule_index,
        "bucket": bucket,
        "version": version,
    }


class ReferenceStore:
    """Flags and tombstones by key, applying writes by the version rule of sidekick.h."""

    def __init__(self) -> None:
        self.flags: dict[str, dict[str, Any]] = {}
        self.tombstones: dict[str, int] = {}

    def upsert(self, flag: dict[str, Any]) -> bool:
        key, version = flag["key"], flag.get("version") or 0
        if key in self.flags:
            held = self.flags[key].get("version") or 0
        else:
            held = self.tombstones.get(key, 0)
        if version and held and version <= held:
            return False
        self.flags[key] = flag
        self.tombstones.pop(key, None)
        return True

    def delete(self, key: str, version: int) -> bool:
        if key not in self.flags:
            if version:
                self.tombstones[key] = max(version, self.tombstones.get(key, 0))
            return False
        held = self.flags[key].get("version") or 0
        if version and held and version <= held:
            return False
        del self.flags[key]
        if version:
            self.tombstones[key] = version
        return True

    def clear(self) -> None:
        self.flags.clear()
        self.tombstones.clear()

    def evaluate(
        self, flag_key: str, user_key: str, attributes: dict[str, Any] | None
    ) -> dict[str, Any]:
        flag = self.flags.get(flag_key)
        if flag is None:
            return reference_answer(False, "FLAG_NOT_FOUND", version=None)
        version = flag.get("version") or 0
        if not flag.get("is_enabled", False):
            return reference_answer(False, "OFF", version=version)
        texts = {}
        for name, value in (attributes or {}).items():
            text = reference_attribute_text(value)
            if text is not None:
                texts[name] = text
        for index, rule in enumerate(flag.get("rules", [])):
            text = texts.get(rule["attribute"])
            if text is not None and reference_rule_matches(rule, text):
                return reference_answer(True, "RULE_MATCH", rule_index=index, version=version)
        rollout = flag.get("rollout_percentage")
        if rollout is None or rollout >= 100:
            return reference_answer(True, "ROLLOUT", version=version)
        if rollout == 0:
            return reference_answer(False, "ROLLOUT", version=version)
        digest = mmh3.hash(f"{flag_key}:{user_key}".encode(), 0, signed=False)
        bucket = digest % 100
        return reference_answer(bucket < rollout, "ROLLOUT", bucket=bucket, version=version)


# ---- random material ----------------------------------------------------------------------------

ATTRIBUTE_NAMES = ("email", "plan", "country", "beta", "age", "name", "team")
STRING_POOL = {
    "email": ("jo@acme.com", "ann@acme.co", "root@example.org", "admin@acme.com", "x@ACME.com", ""),
    "plan": ("free", "pro", "enterprise", "Pro", "team"),
    "country": ("US", "CA", "DE", "FR", "JP", "us"),
    "beta": ("true", "false"),
    "age": ("17", "18", "42", "-1", "0"),
    "name": ("Zoë", "Björk", "東京", "🚀 rocket", "Zoe", "björk"),
    "team": ("core", "core-infra", "infra", "", "growth"),
}
USER_PREFIXES = ("user-", "u", "acct_", "ü", "東", "🚀", "", "id:")


def random_user(rng: random.Random) -> str:
    return rng.choice(USER_PREFIXES) + str(rng.randrange(100_000))


def random_flag_key(rng: random.Random) -> str:
    first = rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    tail = "abcdefghijklmnopqrstuvwxyz_-.0123456789"
    rest = "".join(rng.choice(tail) for _ in range(rng.randrange(12)))
    key = first + rest
    assert KEY_PATTERN.fullmatch(key)
    return key


def random_value_for(rng: random.Random, name: str, operator: str) -> str:
    text = rng.choice(STRING_POOL[name])
    if operator == "Contains" and text:
        start = rng.randrange(len(text))
        return text[start : start + rng.randrange(1, 4)]
    if operator == "StartsWith":
        return text[: rng.randrange(len(text) + 1)]
    if operator == "EndsWith":
        return text[rng.randrange(len(text) + 1) :]
    return text


def random_rule(rng: random.Random) -> dict[str, Any]:
    name = rng.choice(ATTRIBUTE_NAMES)
    operator = rng.choice(OPERATORS)
    count = rng.choice((0, 1, 1, 2, 3))
    return {
        "attribute": name,
        "operator": operator,
        "values": [random_value_for(rng, name, operator) for _ in range(count)],
    }


def random_attribute_value(rng: random.Random, name: str) -> Any:
    kind = rng.randrange(12)
    if kind < 7:
        return rng.choice(STRING_POOL[name])
    if kind == 7:
        return rng.choice((True, False))
    if kind == 8:
        return rng.choice((17, 18, 42, -1, 0, 123456789))
    if kind == 9:
        return rng.choice((18.0, 42.0, -1.0, 1e15))
    if kind == 10:
        return rng.choice((1.5, -0.25, 42.5))
    return rng.choice((None, [], ["pro"], {"plan": "pro"}))


def random_attributes(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() < 0.1:
        return None
    names = rng.sample(ATTRIBUTE_NAMES, rng.randrange(len(ATTRIBUTE_NAMES) + 1))
    return {name: random_attribute_value(rng, name) for name in names}


def random_flag(rng: random.Random, key: str, version: int | None) -> dict[str, Any]:
    flag: dict[str, Any] = {
        "key": key,
        "is_enabled": rng.random() < 0.85,
        "rollout_percentage": rng.choice((None, 0, 1, 5, 25, 50, 50, 75, 99, 100)),
        "rules": [random_rule(rng) for _ in range(rng.choice((0, 0, 1, 2, 3, 5)))],
    }
    if version is not None:
        flag["version"] = version
    if rng.random() < 0.2:
        flag["description"] = "generated"
    return flag


# ---- cases --------------------------------------------------------------------------------------


def evaluation_case(rng: random.Random, index: int) -> dict[str, Any]:
    """A few flags, then evaluations over random users and attributes."""
    store = ReferenceStore()
    keys = [random_flag_key(rng) for _ in range(rng.randrange(1, 4))]
    operations = [
        {"op": "upsert", "flag": random_flag(rng, key, rng.randrange(1, 50))} for key in keys
    ]
    applied = [store.upsert(operation["flag"]) for operation in operations]
    evaluations = []
    for _ in range(rng.randrange(3, 7)):
        flag_key = rng.choice([*keys, "missing_flag"]) if rng.random() < 0.1 else rng.choice(keys)
        user_key = random_user(rng)
        attributes = random_attributes(rng)
        evaluation: dict[str, Any] = {"flag": flag_key, "user_key": user_key}
        if attributes is not None or rng.random() < 0.5:
            evaluation["attributes"] = attributes
        evaluation |= store.evaluate(flag_key, user_key, attributes)
        evaluations.append(evaluation)
    return {
        "name": f"evaluation {index}",
        "operations": operations,
        "applied": applied,
        "count": len(store.flags),
        "evaluations": evaluations,
    }


def rollout_case(rng: random.Random, index: int) -> dict[str, Any]:
    """One flag at a percentage, many users: pins the bucket of each."""
    store = ReferenceStore()
    flag = {
        "key": random_flag_key(rng),
        "is_enabled": True,
        "rollout_percentage": rng.randrange(1, 100),
    }
    store.upsert(flag)
    evaluations = []
    for _ in range(8):
        user_key = random_user(rng)
        answer = store.evaluate(flag["key"], user_key, None)
        evaluations.append({"flag": flag["key"], "user_key": user_key} | answer)
    return {
        "name": f"rollout {index}",
        "operations": [{"op": "upsert", "flag": flag}],
        "applied": [True],
        "count": 1,
        "evaluations": evaluations,
    }


def versions_case(rng: random.Random, index: int) -> dict[str, Any]:
    """Upserts, deletes and clears in random order and versions, then every key evaluated."""
    store = ReferenceStore()
    keys = [random_flag_key(rng) for _ in range(rng.randrange(1, 3))]
    operations: list[dict[str, Any]] = []
    applied: list[bool | None] = []
    for _ in range(rng.randrange(2, 9)):
        roll = rng.random()
        key = rng.choice(keys)
        if roll < 0.6:
            version = None if rng.random() < 0.1 else rng.randrange(0, 12)
            flag = random_flag(rng, key, version)
            operations.append({"op": "upsert", "flag": flag})
            applied.append(store.upsert(flag))
        elif roll < 0.93:
            version = rng.randrange(0, 12)
            operation: dict[str, Any] = {"op": "delete", "key": key}
            if version or rng.random() < 0.5:
                operation["version"] = version
            operations.append(operation)
            applied.append(store.delete(key, version))
        else:
            operations.append({"op": "clear"})
            store.clear()
            applied.append(None)
    evaluations = []
    for key in keys:
        user_key = random_user(rng)
        attributes = random_attributes(rng)
        evaluation = {"flag": key, "user_key": user_key, "attributes": attributes}
        evaluations.append(evaluation | store.evaluate(key, user_key, attributes))
    return {
        "name": f"versions {index}",
        "operations": operations,
        "applied": applied,
        "count": len(store.flags),
        "evaluations": evaluations,
    }


def hash_cases(rng: random.Random) -> list[dict[str, Any]]:
    published = [
        ("empty input, seed 0", b"", 0),
        ("empty input, seed 1", b"", 1),
        ("empty input, seed 0xFFFFFFFF", b"", 0xFFFFFFFF),
        ("four 0xFF bytes", b"\xff\xff\xff\xff", 0),
        ("one full block, high bit set", b"!Ce\x87", 0),
        ("'test' with seed 0x9747B28C", b"test", 0x9747B28C),
        ("'hello'", b"hello", 0),
        ("the quick brown fox", b"The quick brown fox jumps over the lazy dog", 0),
    ]
    cases = [{"name": name, "data": data, "seed": seed} for name, data, seed in published]
    alphabet = bytes(range(256))
    for seed in (0, 1, 42, 0x9747B28C, 0xFFFFFFFF):
        for length in range(0, 21):
            data = bytes(rng.choice(alphabet) for _ in range(length))
            name = f"{length} random bytes, seed {seed:#x}"
            cases.append({"name": name, "data": data, "seed": seed})
    for text in ("ü", "東京", "🚀", "Zoë", "dark_mode:user-1", "dark_mode:ü", "a" * 1000):
        shown = text if len(text) < 20 else f"{text[:5]}… ({len(text)} chars)"
        cases.append({"name": f"UTF-8 of {shown!r}", "data": text.encode(), "seed": 0})
    return [
        {
            "name": case["name"],
            "input_hex": case["data"].hex(),
            "seed": case["seed"],
            "expected": mmh3.hash(case["data"], case["seed"], signed=False),
        }
        for case in cases
    ]


# ---- output -------------------------------------------------------------------------------------


def write_vector_file(path: Path, description: str, cases: list[dict[str, Any]]) -> None:
    """One case per line: small diffs when the generator changes, and still readable."""
    lines = [json.dumps(case, ensure_ascii=False, separators=(",", ":")) for case in cases]
    body = ",\n".join(lines)
    header = json.dumps(description, ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{{"description": {header},\n"cases": [\n{body}\n]}}\n', encoding="utf-8")


def main() -> None:
    rng = random.Random(SEED)
    write_vector_file(
        HERE / "hash.json",
        "MurmurHash3 x86_32, unsigned: published values, every tail length, several seeds, UTF-8.",
        hash_cases(rng),
    )
    write_vector_file(
        HERE / "generated" / "evaluation.json",
        f"Generated by tests/vectors/generate.py (seed {SEED}): random flags, rules, attributes.",
        [evaluation_case(rng, index) for index in range(1200)],
    )
    write_vector_file(
        HERE / "generated" / "rollout.json",
        f"Generated by tests/vectors/generate.py (seed {SEED}): buckets of random users.",
        [rollout_case(rng, index) for index in range(500)],
    )
    write_vector_file(
        HERE / "generated" / "versions.json",
        f"Generated by tests/vectors/generate.py (seed {SEED}): random write sequences.",
        [versions_case(rng, index) for index in range(600)],
    )


if __name__ == "__main__":
    main()
