"""Writes the version 2 (typed flags) shared vectors in typed/, deterministically.

Run `python tests/vectors/generate_typed.py` from the repository root after changing it and
commit the output with it. Every expectation comes from the small reference evaluator below,
written from the contract (docs/contract.md, section 4) alone and sharing no code with evalcore:
a vector and an implementation can only agree by both being right.

- typed/<topic>.json: hand-written cases. Each evaluation states the variant (and the reason and
  rule where they matter) it must get; the generator fills in the rest from the reference and
  fails if the reference disagrees with what the case states.
- typed/generated.json: seeded random flags and users, at least 3,000 evaluations.
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
OUT = HERE / "typed"
SEED = 20261204
SPLIT_SEED = 86028157

# ---- the reference evaluator ------------------------------------------------------------------

TEXT_OPERATORS = ("Equals", "NotEquals", "Contains", "StartsWith", "EndsWith")
NUMERIC_OPERATORS = ("Gt", "Gte", "Lt", "Lte")
SEMVER_OPERATORS = ("SemverEq", "SemverGt", "SemverLt")
JSON_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")


def ref_text(value: Any) -> str | None:
    """The text a value has for text operators and bucket_by, or None."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    exact = isinstance(value, float) and math.isfinite(value) and abs(value) < 2**53
    if exact and value == int(value):
        return str(int(value))
    return None


def ref_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and "\n" not in value and JSON_NUMBER.match(value):
        return float(value)
    return None


def _numeric_identifier(part: str) -> bool:
    return part.isascii() and part.isdigit() and (part == "0" or not part.startswith("0"))


def ref_semver(text: Any) -> tuple[list[int], list[str] | None] | None:
    """([major, minor, patch], pre-release identifiers or None), parsed by splitting."""
    if not isinstance(text, str) or not text.isascii():
        return None
    allowed = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
    main, plus, build = text.partition("+")
    if plus and (not build or any(not p or set(p) - allowed for p in build.split("."))):
        return None
    dash = main.find("-")
    core, pre = (main, None) if dash < 0 else (main[:dash], main[dash + 1 :])
    parts = core.split(".")
    if len(parts) != 3 or not all(_numeric_identifier(p) for p in parts):
        return None
    identifiers = None
    if pre is not None:
        identifiers = pre.split(".")
        for identifier in identifiers:
            if not identifier or set(identifier) - allowed:
                return None
            if identifier.isdigit() and not _numeric_identifier(identifier):
                return None
    return [int(p) for p in parts], identifiers


def ref_semver_compare(a: tuple[list[int], list[str] | None], b: Any) -> int:
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    if a[1] is None or b[1] is None:
        return (a[1] is None) - (b[1] is None)
    for x, y in zip(a[1], b[1], strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    return (len(a[1]) > len(b[1])) - (len(a[1]) < len(b[1]))


def ref_operator(operator: str, value: Any, values: list[str]) -> bool:
    if operator in TEXT_OPERATORS:
        text = ref_text(value)
        if text is None:
            return False
        data = text.encode("utf-8")
        wanted = [v.encode("utf-8") for v in values]
        if operator == "Equals":
            return data in wanted
        if operator == "NotEquals":
            return data not in wanted
        if operator == "Contains":
            return any(w in data for w in wanted)
        if operator == "StartsWith":
            return any(data[: len(w)] == w for w in wanted)
        return any(len(w) <= len(data) and data[len(data) - len(w) :] == w for w in wanted)
    if operator in NUMERIC_OPERATORS:
        number = ref_number(value)
        if number is None:
            return False
        compare = {
            "Gt": lambda a, b: a > b,
            "Gte": lambda a, b: a >= b,
            "Lt": lambda a, b: a < b,
            "Lte": lambda a, b: a <= b,
        }[operator]
        return any(compare(number, float(v)) for v in values)
    version = ref_semver(value)
    if version is None:
        return False
    wanted_order = {"SemverEq": 0, "SemverGt": 1, "SemverLt": -1}[operator]
    return any(ref_semver_compare(version, ref_semver(v)) == wanted_order for v in values)


def ref_condition(condition: dict[str, Any], attributes: dict[str, Any]) -> bool:
    if condition["attribute"] not in attributes:
        return False
    held = ref_operator(
        condition["operator"], attributes[condition["attribute"]], condition["values"]
    )
    return not held if condition.get("negate", False) else held


def ref_evaluate(flag: dict[str, Any] | None, user_key: str, attributes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "enabled": False,
        "variant": None,
        "value": None,
        "reason": "FLAG_NOT_FOUND",
        "rule_index": None,
        "bucket": None,
        "version": None,
    }
    if flag is None:
        return answer
    attributes = attributes or {}
    flag_type = flag.get("type", "boolean")
    if flag_type == "boolean":
        values = {"on": True, "off": False}
    else:
        values = {variant["key"]: variant["value"] for variant in flag["variants"]}
    answer["version"] = flag.get("version", 0)
    hashed = user_key
    if flag.get("bucket_by") is not None and flag["bucket_by"] in attributes:
        text = ref_text(attributes[flag["bucket_by"]])
        if text is not None:
            hashed = text
    seed_input = f"{flag['key']}:{hashed}".encode()

    def serve(chosen: dict[str, Any]) -> str:
        if "variant" in chosen:
            return str(chosen["variant"])
        bucket = mmh3.hash(seed_input, SPLIT_SEED, signed=False) % 1000
        answer["bucket"] = bucket
        total = 0
        for entry in chosen["split"]:
            total += entry["weight"]
            if bucket < total:
                return str(entry["variant"])
        raise AssertionError("weights add up to 1000")

    if not flag.get("is_enabled", False):
        answer["reason"] = "OFF"
        variant = "off" if flag_type == "boolean" else flag["off_variant"]
    else:
        variant = None
        for index, rule in enumerate(flag.get("rules", [])):
            conditions = rule.get("conditions", [rule])
            if all(ref_condition(condition, attributes) for condition in conditions):
                answer["reason"] = "RULE_MATCH"
                answer["rule_index"] = index
                variant = serve(rule.get("serve", {"variant": "on"}))
                break
        if variant is None:
            answer["reason"] = "ROLLOUT"
            if flag_type != "boolean":
                variant = serve(flag["fallthrough"])
            else:
                rollout = flag.get("rollout_percentage")
                if rollout is None or rollout == 100:
                    variant = "on"
                elif rollout == 0:
                    variant = "off"
                else:
                    bucket = mmh3.hash(seed_input, 0, signed=False) % 100
                    answer["bucket"] = bucket
                    variant = "on" if bucket < rollout else "off"
    answer["variant"] = variant
    answer["value"] = values[variant]
    answer["enabled"] = flag_type == "boolean" and variant == "on"
    return answer


def ref_get(
    flag: dict[str, Any] | None, wanted: str, user_key: str, attributes: Any, default: Any
) -> Any:
    if flag is None or flag.get("type", "boolean") != wanted:
        return default
    return ref_evaluate(flag, user_key, attributes)["value"]


# ---- the case writer --------------------------------------------------------------------------


def case(
    name: str,
    flags: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    getters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A case: upserts the flags, then the evaluations. Each check states the fields it pins
    (at least "variant"); the reference fills in the rest and must agree with the stated ones."""
    by_key = {flag["key"]: flag for flag in flags}
    evaluations = []
    for check in checks:
        attributes = check.get("attributes")
        got = ref_evaluate(by_key.get(check["flag"]), check["user_key"], attributes)
        for field, stated in check.items():
            if field in got:
                assert json.dumps(got[field]) == json.dumps(stated), (name, check, got)
        entry: dict[str, Any] = {"flag": check["flag"], "user_key": check["user_key"]}
        if attributes is not None:
            entry["attributes"] = attributes
        entry.update(got)
        evaluations.append(entry)
    result: dict[str, Any] = {
        "name": name,
        "operations": [{"op": "upsert", "flag": flag} for flag in flags],
        "applied": [True] * len(flags),
        "count": len(flags),
        "evaluations": evaluations,
    }
    if getters:
        for getter in getters:
            want = ref_get(
                by_key.get(getter["flag"]),
                getter["getter"],
                getter["user_key"],
                getter.get("attributes"),
                getter["default"],
            )
            assert json.dumps(want) == json.dumps(getter["expected"]), (name, getter, want)
        result["getters"] = getters
    return result


def string_flag(key: str, rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A string flag with variants a/b/c (values "A"/"B"/"C"): off serves a, fallthrough b."""
    flag = {
        "key": key,
        "type": "string",
        "is_enabled": True,
        "variants": [{"key": k, "value": k.upper()} for k in ("a", "b", "c")],
        "off_variant": "a",
        "fallthrough": {"variant": "b"},
        "rules": rules,
        "version": 1,
    }
    flag.update(extra)
    return flag


def one(attribute: str, operator: str, values: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "attribute": attribute,
        "operator": operator,
        "values": values,
        "serve": {"variant": "c"},
        **extra,
    }


def hits(flag: str, attributes: Any, variant: str = "c") -> dict[str, Any]:
    return {"flag": flag, "user_key": "u1", "attributes": attributes, "variant": variant}


def misses(flag: str, attributes: Any) -> dict[str, Any]:
    return {
        "flag": flag,
        "user_key": "u1",
        "attributes": attributes,
        "variant": "b",
        "reason": "ROLLOUT",
    }


def numeric_cases() -> list[dict[str, Any]]:
    gte18 = string_flag("age", [one("age", "Gte", ["18"])])
    return [
        case(
            "Numbers compare by value, strings in JSON's grammar only",
            [gte18],
            [
                hits("age", {"age": 18}),
                hits("age", {"age": 18.0}),
                hits("age", {"age": 18.5}),
                misses("age", {"age": 17.999}),
                hits("age", {"age": "18"}),
                hits("age", {"age": "1.8e1"}),
                hits("age", {"age": "1e3"}),
                hits("age", {"age": "1E+3"}),
                misses("age", {"age": "-0"}),
                misses("age", {"age": -0.0}),
                misses("age", {"age": " 19"}),
                misses("age", {"age": "19 "}),
                misses("age", {"age": "+19"}),
                misses("age", {"age": "019"}),
                misses("age", {"age": ".5e2"}),
                misses("age", {"age": "19."}),
                misses("age", {"age": "NaN"}),
                misses("age", {"age": "Infinity"}),
                misses("age", {"age": "0x20"}),
                hits("age", {"age": "1e400"}),
                misses("age", {"age": "-1e400"}),
                misses("age", {"age": "1e-400"}),
            ],
        ),
        case(
            "A boolean is not a number, nor is null, a list or an object",
            [gte18, string_flag("one", [one("n", "Gte", ["1"])])],
            [
                misses("one", {"n": True}),
                misses("one", {"n": False}),
                misses("one", {"n": None}),
                misses("one", {"n": [5]}),
                misses("one", {"n": {"v": 5}}),
                hits("one", {"n": 1}),
            ],
        ),
        case(
            "Gt, Gte, Lt, Lte at the boundary, and any of several values",
            [
                string_flag("gt", [one("x", "Gt", ["10"])]),
                string_flag("gte", [one("x", "Gte", ["10"])]),
                string_flag("lt", [one("x", "Lt", ["10"])]),
                string_flag("lte", [one("x", "Lte", ["10"])]),
                string_flag("any", [one("x", "Gt", ["100", "5"])]),
                string_flag("zero", [one("x", "Lt", ["0"])]),
                string_flag("tiny", [one("x", "Gt", ["0"])]),
            ],
            [
                misses("gt", {"x": 10}),
                hits("gt", {"x": 10.000001}),
                hits("gte", {"x": 10}),
                hits("lt", {"x": 9.5}),
                misses("lt", {"x": 10}),
                hits("lte", {"x": 10}),
                hits("any", {"x": 6}),
                misses("any", {"x": 5}),
                misses("zero", {"x": -0.0}),
                misses("zero", {"x": "-0"}),
                misses("tiny", {"x": "1e-400"}),
                hits("tiny", {"x": "4.9e-324"}),
                hits("zero", {"x": -1e-300}),
            ],
        ),
    ]


def semver_cases() -> list[dict[str, Any]]:
    flags = [
        string_flag("eq", [one("v", "SemverEq", ["1.2.3"])]),
        string_flag("gt", [one("v", "SemverGt", ["1.2.3"])]),
        string_flag("lt", [one("v", "SemverLt", ["1.0.0"])]),
    ]
    return [
        case(
            "SemVer 2.0.0 precedence: pre-releases, build metadata, numeric parts",
            flags,
            [
                hits("eq", {"v": "1.2.3"}),
                hits("eq", {"v": "1.2.3+build.7"}),
                misses("eq", {"v": "1.2.3-rc.1"}),
                hits("gt", {"v": "1.10.0"}),
                hits("gt", {"v": "1.2.4-alpha"}),
                misses("gt", {"v": "1.2.3-rc.1"}),
                hits("gt", {"v": "99999999999999999999.0.0"}),
                hits("lt", {"v": "1.0.0-alpha"}),
                hits("lt", {"v": "1.0.0-alpha.1"}),
                hits("lt", {"v": "1.0.0-rc.1"}),
                hits("lt", {"v": "1.0.0-0"}),
                misses("lt", {"v": "1.0.0"}),
                misses("lt", {"v": "1.0.0+b"}),
            ],
        ),
        case(
            "What does not parse as SemVer is false",
            flags,
            [
                misses("eq", {"v": "v1.2.3"}),
                misses("eq", {"v": "1.2"}),
                misses("eq", {"v": "01.2.3"}),
                misses("eq", {"v": "1.2.3-01"}),
                misses("eq", {"v": "1.2.3 "}),
                misses("eq", {"v": 1}),
                misses("gt", {"v": "1.2.3.4"}),
                misses("gt", {"v": True}),
                misses("gt", {"v": None}),
            ],
        ),
        case(
            "Pre-release ordering: alpha < alpha.1 < alpha.beta < beta < beta.2 < beta.11 < rc.1",
            [
                string_flag(
                    "order",
                    [
                        one("v", "SemverLt", ["1.0.0-alpha.beta"]),
                        {**one("v", "SemverGt", ["1.0.0-beta.2"]), "serve": {"variant": "a"}},
                    ],
                ),
            ],
            [
                hits("order", {"v": "1.0.0-alpha"}),
                hits("order", {"v": "1.0.0-alpha.1"}),
                misses("order", {"v": "1.0.0-alpha.beta"}),
                misses("order", {"v": "1.0.0-beta"}),
                misses("order", {"v": "1.0.0-beta.2"}),
                hits("order", {"v": "1.0.0-beta.11"}, "a"),
                hits("order", {"v": "1.0.0-rc.1"}, "a"),
                hits("order", {"v": "1.0.0"}, "a"),
            ],
        ),
    ]


def condition_cases() -> list[dict[str, Any]]:
    negated = string_flag("neg", [one("country", "Equals", ["FR"], negate=True)])
    anded = string_flag(
        "and",
        [
            {
                "conditions": [
                    {"attribute": "plan", "operator": "Equals", "values": ["pro"]},
                    {"attribute": "age", "operator": "Gte", "values": ["18"]},
                    {
                        "attribute": "country",
                        "operator": "Equals",
                        "values": ["FR"],
                        "negate": True,
                    },
                ],
                "serve": {"variant": "c"},
            }
        ],
    )
    return [
        case(
            "negate inverts a present attribute, even one that cannot be compared",
            [
                negated,
                string_flag("neg_num", [one("n", "Gt", ["1"], negate=True)]),
                string_flag("neg_text", [one("n", "Equals", ["1.5"], negate=True)]),
            ],
            [
                hits("neg", {"country": "DE"}),
                misses("neg", {"country": "FR"}),
                hits("neg", {"country": None}),
                hits("neg", {"country": 1.5}),
                hits("neg", {"country": []}),
                hits("neg_num", {"n": "abc"}),
                hits("neg_num", {"n": True}),
                misses("neg_num", {"n": 2}),
                hits("neg_text", {"n": 1.5}),
            ],
        ),
        case(
            "A missing attribute is false, negated or not, NotEquals included",
            [
                negated,
                string_flag("ne", [one("plan", "NotEquals", ["pro"])]),
                string_flag("ne_neg", [one("plan", "NotEquals", ["pro"], negate=True)]),
            ],
            [
                misses("neg", {}),
                misses("neg", None),
                misses("neg", {"Country": "DE"}),
                misses("ne", {}),
                misses("ne_neg", {}),
                hits("ne", {"plan": "free"}),
                hits("ne_neg", {"plan": "pro"}),
            ],
        ),
        case(
            "All of a rule's conditions must hold",
            [anded],
            [
                hits("and", {"plan": "pro", "age": 30, "country": "DE"}),
                misses("and", {"plan": "pro", "age": 30, "country": "FR"}),
                misses("and", {"plan": "pro", "age": 17, "country": "DE"}),
                misses("and", {"plan": "pro", "age": 30}),
                misses("and", {"plan": "free", "age": 30, "country": "DE"}),
            ],
        ),
        case(
            "Rules in order: the first that holds serves, with its index",
            [
                string_flag(
                    "first",
                    [
                        one("plan", "Equals", ["pro"]),
                        {**one("plan", "StartsWith", ["p"]), "serve": {"variant": "a"}},
                    ],
                ),
            ],
            [
                {**hits("first", {"plan": "pro"}), "rule_index": 0, "reason": "RULE_MATCH"},
                {**hits("first", {"plan": "plus"}, "a"), "rule_index": 1},
                misses("first", {"plan": "free"}),
            ],
        ),
    ]


def serve_cases() -> list[dict[str, Any]]:
    users = [f"user-{n}" for n in range(12)]
    everyone_c = string_flag(
        "all_c",
        [],
        fallthrough={
            "split": [
                {"variant": "a", "weight": 0},
                {"variant": "b", "weight": 0},
                {"variant": "c", "weight": 1000},
            ]
        },
    )
    zeros = string_flag(
        "zeros",
        [],
        fallthrough={
            "split": [
                {"variant": "a", "weight": 0},
                {"variant": "b", "weight": 500},
                {"variant": "c", "weight": 500},
            ]
        },
    )
    split_checks = [
        {"flag": "zeros", "user_key": u, "variant": ref_evaluate(zeros, u, None)["variant"]}
        for u in users
    ]
    assert {check["variant"] for check in split_checks} == {"b", "c"}
    return [
        case(
            "A split with one variant at 1000 serves it to everyone; zero weights never",
            [everyone_c, zeros],
            [
                *[
                    {"flag": "all_c", "user_key": u, "variant": "c", "reason": "ROLLOUT"}
                    for u in users
                ],
                *split_checks,
            ],
        ),
        case(
            "Off serves the off variant; no rule serves the fallthrough",
            [
                string_flag("off", [one("plan", "Equals", ["pro"])], is_enabled=False),
                string_flag("on", [one("plan", "Equals", ["pro"])]),
            ],
            [
                {
                    "flag": "off",
                    "user_key": "u",
                    "attributes": {"plan": "pro"},
                    "variant": "a",
                    "value": "A",
                    "reason": "OFF",
                },
                {
                    "flag": "on",
                    "user_key": "u",
                    "variant": "b",
                    "value": "B",
                    "reason": "ROLLOUT",
                    "enabled": False,
                },
                {
                    "flag": "missing",
                    "user_key": "u",
                    "variant": None,
                    "value": None,
                    "reason": "FLAG_NOT_FOUND",
                },
            ],
        ),
        case(
            "Number and json flags serve their values; enabled stays false",
            [
                {
                    "key": "limit",
                    "type": "number",
                    "is_enabled": True,
                    "variants": [{"key": "low", "value": 10}, {"key": "high", "value": 2.5}],
                    "off_variant": "low",
                    "fallthrough": {"variant": "high"},
                    "version": 4,
                },
                {
                    "key": "theme",
                    "type": "json",
                    "is_enabled": True,
                    "variants": [
                        {"key": "dark", "value": {"bg": "#000", "sizes": [1, 2]}},
                        {"key": "none", "value": None},
                    ],
                    "off_variant": "none",
                    "fallthrough": {"variant": "dark"},
                },
            ],
            [
                {
                    "flag": "limit",
                    "user_key": "u",
                    "variant": "high",
                    "value": 2.5,
                    "enabled": False,
                    "version": 4,
                },
                {
                    "flag": "theme",
                    "user_key": "u",
                    "variant": "dark",
                    "value": {"bg": "#000", "sizes": [1, 2]},
                },
            ],
        ),
        case(
            "Boolean flags: a rule may serve off or a split over on and off",
            [
                {
                    "key": "bool",
                    "is_enabled": True,
                    "rollout_percentage": 100,
                    "rules": [
                        {
                            "attribute": "plan",
                            "operator": "Equals",
                            "values": ["free"],
                            "serve": {"variant": "off"},
                        },
                        {
                            "attribute": "plan",
                            "operator": "Equals",
                            "values": ["team"],
                            "serve": {
                                "split": [
                                    {"variant": "on", "weight": 0},
                                    {"variant": "off", "weight": 1000},
                                ]
                            },
                        },
                    ],
                },
            ],
            [
                {
                    "flag": "bool",
                    "user_key": "u",
                    "attributes": {"plan": "free"},
                    "variant": "off",
                    "value": False,
                    "enabled": False,
                    "reason": "RULE_MATCH",
                },
                {
                    "flag": "bool",
                    "user_key": "u",
                    "attributes": {"plan": "team"},
                    "variant": "off",
                    "enabled": False,
                    "rule_index": 1,
                },
                {
                    "flag": "bool",
                    "user_key": "u",
                    "attributes": {"plan": "pro"},
                    "variant": "on",
                    "value": True,
                    "enabled": True,
                },
            ],
        ),
    ]


def bucket_by_cases() -> list[dict[str, Any]]:
    flag = string_flag(
        "per_org",
        [],
        bucket_by="org",
        fallthrough={
            "split": [
                {"variant": "a", "weight": 333},
                {"variant": "b", "weight": 333},
                {"variant": "c", "weight": 334},
            ]
        },
    )
    rollout = {"key": "half", "is_enabled": True, "rollout_percentage": 50, "bucket_by": "org"}

    def same_as(
        user: str, attributes: Any, like: str, flag_def: dict[str, Any] = flag
    ) -> dict[str, Any]:
        expected = ref_evaluate(flag_def, like, None)
        return {
            "flag": flag_def["key"],
            "user_key": user,
            "attributes": attributes,
            "variant": expected["variant"],
            "bucket": expected["bucket"],
        }

    return [
        case(
            "bucket_by text replaces the user key; other values fall back to it",
            [flag, rollout],
            [
                same_as("someone", {"org": "acme"}, "acme"),
                same_as("someone-else", {"org": "acme"}, "acme"),
                same_as("someone", {"org": ""}, ""),
                same_as("someone", {"org": True}, "true"),
                same_as("someone", {"org": 42}, "42"),
                same_as("someone", {"org": 42.0}, "42"),
                same_as("someone", {"org": 1.5}, "someone"),
                same_as("someone", {"org": None}, "someone"),
                same_as("someone", {"org": ["acme"]}, "someone"),
                same_as("someone", {}, "someone"),
                same_as("someone", {"org": "acme"}, "acme", rollout),
                same_as("someone", {"org": None}, "someone", rollout),
            ],
        ),
    ]


def getter_cases() -> list[dict[str, Any]]:
    flags = [
        string_flag("text", []),
        {
            "key": "num",
            "type": "number",
            "is_enabled": True,
            "variants": [{"key": "n", "value": 7}],
            "off_variant": "n",
            "fallthrough": {"variant": "n"},
        },
        {
            "key": "obj",
            "type": "json",
            "is_enabled": False,
            "variants": [{"key": "j", "value": [1, "x"]}],
            "off_variant": "j",
            "fallthrough": {"variant": "j"},
        },
        {"key": "flag", "is_enabled": True},
    ]

    def get(getter: str, flag: str, default: Any, expected: Any) -> dict[str, Any]:
        return {
            "getter": getter,
            "flag": flag,
            "user_key": "u",
            "default": default,
            "expected": expected,
        }

    return [
        case(
            "Typed getters: their type's value, else the default (missing flag, other type)",
            flags,
            [
                {"flag": "text", "user_key": "u", "variant": "b"},
            ],
            [
                get("string", "text", "dflt", "B"),
                get("string", "num", "dflt", "dflt"),
                get("string", "missing", "dflt", "dflt"),
                get("number", "num", 0, 7),
                get("number", "text", -1, -1),
                get("json", "obj", None, [1, "x"]),
                get("json", "flag", {"d": 1}, {"d": 1}),
                get("boolean", "flag", False, True),
                get("boolean", "text", True, True),
                get("boolean", "missing", True, True),
            ],
        ),
    ]


def validation_cases() -> list[dict[str, Any]]:
    """Typed wire flags every binding refuses, with the field path its error must start with."""
    good = string_flag("v", [one("plan", "Equals", ["pro"])])
    refused: list[tuple[str, dict[str, Any], str]] = [
        ("an unknown type", {**good, "type": "text"}, "type"),
        (
            "variants on a boolean flag",
            {"key": "v", "variants": [{"key": "a", "value": 1}]},
            "variants",
        ),
        ("off_variant on a boolean flag", {"key": "v", "off_variant": "off"}, "off_variant"),
        ("no variants", {**good, "variants": []}, "variants"),
        (
            "a duplicate variant key",
            {**good, "variants": [{"key": "a", "value": "x"}] * 2},
            "variants[1].key",
        ),
        (
            "a variant value of another type",
            {**good, "variants": [{"key": "a", "value": 1}]},
            "variants[0].value",
        ),
        (
            "a bool as a number variant",
            {**good, "type": "number", "variants": [{"key": "a", "value": True}]},
            "variants[0].value",
        ),
        ("a rollout on a string flag", {**good, "rollout_percentage": 50}, "rollout_percentage"),
        ("no fallthrough", {k: v for k, v in good.items() if k != "fallthrough"}, "fallthrough"),
        ("no off_variant", {k: v for k, v in good.items() if k != "off_variant"}, "off_variant"),
        ("an off_variant naming nothing", {**good, "off_variant": "zz"}, "off_variant"),
        (
            "a rule without serve on a string flag",
            {**good, "rules": [{"attribute": "a", "operator": "Equals", "values": []}]},
            "rules[0].serve",
        ),
        (
            "a serve naming no variant",
            {**good, "rules": [one("a", "Equals", ["x"]) | {"serve": {"variant": "zz"}}]},
            "rules[0].serve.variant",
        ),
        (
            "a serve with both variant and split",
            {**good, "fallthrough": {"variant": "a", "split": []}},
            "fallthrough",
        ),
        (
            "split weights not adding up to 1000",
            {**good, "fallthrough": {"split": [{"variant": "a", "weight": 999}]}},
            "fallthrough.split",
        ),
        (
            "a split weight above 1000",
            {
                **good,
                "fallthrough": {
                    "split": [{"variant": "a", "weight": 1001}, {"variant": "b", "weight": -1}]
                },
            },
            "fallthrough.split[0].weight",
        ),
        (
            "a non-integer split weight",
            {**good, "fallthrough": {"split": [{"variant": "a", "weight": 1000.0}]}},
            "fallthrough.split[0].weight",
        ),
        (
            "a numeric value that is not a JSON number",
            {**good, "rules": [one("age", "Gte", ["18", " 18"])]},
            "rules[0].values[1]",
        ),
        (
            "a SemVer value with a leading v",
            {**good, "rules": [one("app", "SemverGt", ["v1.2.3"])]},
            "rules[0].values[0]",
        ),
        (
            "21 conditions",
            {
                **good,
                "rules": [
                    {
                        "conditions": [{"attribute": "a", "operator": "Equals", "values": []}] * 21,
                        "serve": {"variant": "a"},
                    }
                ],
            },
            "rules[0].conditions",
        ),
        (
            "no conditions",
            {**good, "rules": [{"conditions": [], "serve": {"variant": "a"}}]},
            "rules[0].conditions",
        ),
        (
            "a bad condition operator",
            {
                **good,
                "rules": [
                    {
                        "conditions": [{"attribute": "a", "operator": "Between", "values": []}],
                        "serve": {"variant": "a"},
                    }
                ],
            },
            "rules[0].conditions[0].operator",
        ),
        (
            "negate that is not a boolean",
            {**good, "rules": [one("a", "Equals", [], negate="yes")]},
            "rules[0].negate",
        ),
        ("an empty bucket_by", {**good, "bucket_by": ""}, "bucket_by"),
        (
            "a boolean rule serving a missing variant",
            {
                "key": "v",
                "rules": [
                    {
                        "attribute": "a",
                        "operator": "Equals",
                        "values": [],
                        "serve": {"variant": "maybe"},
                    }
                ],
            },
            "rules[0].serve.variant",
        ),
    ]
    return [
        {
            "name": f"Refused: {name}",
            "operations": [{"op": "upsert", "flag": flag, "error": path}],
            "applied": [None],
            "count": 0,
            "evaluations": [],
        }
        for name, flag, path in refused
    ]


# ---- generated cases --------------------------------------------------------------------------

NAMES = ("plan", "age", "app", "org", "score")
NUMBER_TEXTS = ("0", "-0", "18", "1e3", "2.5", "-7", "1e400", "1e-400", "100", "17.999")
ODD_NUMBER_TEXTS = (" 1", "+1", "01", ".5", "1.", "NaN", "Infinity", "1e", "0x1")
SEMVERS = ("1.0.0", "1.2.3", "1.2.3-rc.1", "1.2.3-alpha", "1.10.0", "2.0.0", "0.0.1", "1.2.3+b.1")
ODD_SEMVERS = ("v1.2.3", "1.2", "01.0.0", "1.0.0-01", "1.0.0-")
WORDS = ("pro", "free", "team", "acme", "", "p", "pr", "ro", "Pro")


def random_value(rng: random.Random) -> Any:
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice(NUMBER_TEXTS + ODD_NUMBER_TEXTS)
    if kind == 1:
        return rng.choice(SEMVERS + ODD_SEMVERS)
    if kind in (2, 3):
        return rng.choice(WORDS)
    if kind == 4:
        return rng.choice((0, 1, 17, 18, 19, -3, 100, 1000))
    if kind == 5:
        return rng.choice((18.0, 18.5, -0.0, 0.5, 2.5, 1e300, -1e300, 17.999))
    if kind == 6:
        return rng.choice((True, False))
    if kind == 7:
        return rng.choice((None, [], ["pro"], {"a": 1}))
    return rng.choice(WORDS + NUMBER_TEXTS)


def random_condition(rng: random.Random) -> dict[str, Any]:
    operator = rng.choice(TEXT_OPERATORS + NUMERIC_OPERATORS + SEMVER_OPERATORS)
    count = rng.choice((0, 1, 1, 1, 2, 3))
    if operator in NUMERIC_OPERATORS:
        values = [rng.choice(NUMBER_TEXTS) for _ in range(count)]
    elif operator in SEMVER_OPERATORS:
        values = [rng.choice(SEMVERS) for _ in range(count)]
    else:
        values = [rng.choice(WORDS + NUMBER_TEXTS[:4] + ("true", "false")) for _ in range(count)]
    condition: dict[str, Any] = {
        "attribute": rng.choice(NAMES),
        "operator": operator,
        "values": values,
    }
    if rng.random() < 0.3:
        condition["negate"] = True
    return condition


def random_serve(rng: random.Random, variant_keys: list[str]) -> dict[str, Any]:
    if rng.random() < 0.5:
        return {"variant": rng.choice(variant_keys)}
    count = rng.randint(1, len(variant_keys) + 1)
    chosen = [rng.choice(variant_keys) for _ in range(count)]
    if rng.random() < 0.2:
        weights = [0] * count
        weights[rng.randrange(count)] = 1000
    else:
        cuts = sorted(rng.choice((0, rng.randint(0, 1000))) for _ in range(count - 1))
        bounds = [0, *cuts, 1000]
        weights = [bounds[i + 1] - bounds[i] for i in range(count)]
    return {"split": [{"variant": v, "weight": w} for v, w in zip(chosen, weights, strict=True)]}


def random_typed_flag(rng: random.Random, key: str) -> dict[str, Any]:
    flag_type = rng.choice(("boolean", "string", "number", "json"))
    flag: dict[str, Any] = {
        "key": key,
        "is_enabled": rng.random() < 0.85,
        "version": rng.randint(0, 9),
    }
    if flag_type == "boolean":
        variant_keys = ["on", "off"]
        flag["rollout_percentage"] = rng.choice((None, 0, 1, 25, 50, 99, 100))
    else:
        flag["type"] = flag_type
        count = rng.randint(1, 4)
        variant_keys = [f"v{n}" for n in range(count)]
        makers = {
            "string": lambda n: f"value {n}",
            "number": lambda n: rng.choice((n, n + 0.5, -n)),
            "json": lambda n: rng.choice(({"n": n}, [n, "x"], None, f"s{n}", n)),
        }
        flag["variants"] = [
            {"key": k, "value": makers[flag_type](n)} for n, k in enumerate(variant_keys)
        ]
        flag["off_variant"] = rng.choice(variant_keys)
        flag["fallthrough"] = random_serve(rng, variant_keys)
    if rng.random() < 0.3:
        flag["bucket_by"] = rng.choice(("org", "plan", "age"))
    rules = []
    for _ in range(rng.choice((0, 1, 2, 3))):
        conditions = [random_condition(rng) for _ in range(rng.choice((1, 1, 2, 3)))]
        rule: dict[str, Any] = (
            {"conditions": conditions}
            if len(conditions) > 1 or rng.random() < 0.2
            else dict(conditions[0])
        )
        if flag_type != "boolean" or rng.random() < 0.5:
            rule["serve"] = random_serve(rng, variant_keys)
        rules.append(rule)
    flag["rules"] = rules
    return flag


def values_in(flags: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The values the flags' conditions name, per attribute, some as numbers: attributes drawn
    from them make rules hold (or just miss) far more often than random ones."""
    found: dict[str, list[Any]] = {}
    for flag in flags:
        for rule in flag["rules"]:
            for condition in rule.get("conditions", [rule]):
                for value in condition["values"]:
                    found.setdefault(condition["attribute"], []).append(value)
                    if condition["operator"] in NUMERIC_OPERATORS and math.isfinite(float(value)):
                        found[condition["attribute"]].append(float(value) + rng_nudge(value))
    return found


def rng_nudge(value: str) -> float:
    return 0.0 if len(value) % 2 else 0.5


def generated_case(rng: random.Random, index: int) -> dict[str, Any]:
    flags = [random_typed_flag(rng, f"g{index}-{n}") for n in range(rng.randint(1, 3))]
    by_key = {flag["key"]: flag for flag in flags}
    named = values_in(flags)
    evaluations = []
    for _ in range(12):
        flag_key = "absent" if rng.random() < 0.08 else rng.choice(list(by_key))
        user = f"user-{rng.randrange(10_000)}"
        attributes = None
        if rng.random() < 0.9:
            attributes = {}
            for name in rng.sample(NAMES, rng.randint(0, len(NAMES))):
                if name in named and rng.random() < 0.6:
                    attributes[name] = rng.choice(named[name])
                else:
                    attributes[name] = random_value(rng)
        entry: dict[str, Any] = {"flag": flag_key, "user_key": user}
        if attributes is not None:
            entry["attributes"] = attributes
        entry.update(ref_evaluate(by_key.get(flag_key), user, attributes))
        evaluations.append(entry)
    return {
        "name": f"generated typed case {index}",
        "operations": [{"op": "upsert", "flag": flag} for flag in flags],
        "applied": [True] * len(flags),
        "count": len(flags),
        "evaluations": evaluations,
    }


def write(path: Path, description: str, cases: list[dict[str, Any]]) -> None:
    body = {"description": description, "cases": cases}
    path.write_text(
        json.dumps(body, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )


def main() -> None:
    OUT.mkdir(exist_ok=True)
    write(
        OUT / "numeric.json",
        "Gt/Gte/Lt/Lte: numbers by value, strings in JSON's number grammar only.",
        numeric_cases(),
    )
    write(
        OUT / "semver.json",
        "SemverEq/Gt/Lt: SemVer 2.0.0 precedence; unparseable is false.",
        semver_cases(),
    )
    write(
        OUT / "conditions.json",
        "AND of conditions, negate, missing attributes, rule order.",
        condition_cases(),
    )
    write(
        OUT / "serves.json",
        "Variants, splits, off and fallthrough variants, boolean serves.",
        serve_cases(),
    )
    write(
        OUT / "bucket_by.json",
        "bucket_by: which text replaces the user key in the hashes.",
        bucket_by_cases(),
    )
    write(OUT / "getters.json", "Typed getters and their defaults.", getter_cases())
    write(OUT / "validation.json", "Typed wire flags refused, by field path.", validation_cases())
    rng = random.Random(SEED)
    cases = [generated_case(rng, index) for index in range(260)]
    assert sum(len(c["evaluations"]) for c in cases) >= 3000
    write(OUT / "generated.json", "Seeded random typed flags, users and attributes.", cases)


if __name__ == "__main__":
    main()
