"""The strict validator every write path shares: each bad input is named by its field path."""

from __future__ import annotations

from typing import Any

import pytest

from flags.exceptions import FlagValidationError
from flags.validation import validate_flag, validate_flag_patch

RULE = {"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}

BAD_FLAGS: list[tuple[str, Any, str]] = [
    ("missing key", {}, "key"),
    ("key not a string", {"key": 5}, "key"),
    ("empty key", {"key": ""}, "key"),
    ("key too long", {"key": "k" * 101}, "key"),
    ("key with space", {"key": "dark mode"}, "key"),
    ("key starting with dash", {"key": "-dark"}, "key"),
    ("key starting with dot", {"key": ".dark"}, "key"),
    ("key with trailing newline", {"key": "dark\n"}, "key"),
    ("key with unicode letter", {"key": "därk"}, "key"),
    ("enabled as string", {"key": "k", "is_enabled": "true"}, "is_enabled"),
    ("enabled as 1", {"key": "k", "is_enabled": 1}, "is_enabled"),
    ("enabled as null", {"key": "k", "is_enabled": None}, "is_enabled"),
    ("rollout as string", {"key": "k", "rollout_percentage": "50"}, "rollout_percentage"),
    ("rollout as float", {"key": "k", "rollout_percentage": 50.5}, "rollout_percentage"),
    ("rollout as integral float", {"key": "k", "rollout_percentage": 50.0}, "rollout_percentage"),
    ("rollout as bool", {"key": "k", "rollout_percentage": True}, "rollout_percentage"),
    ("rollout 101", {"key": "k", "rollout_percentage": 101}, "rollout_percentage"),
    ("rollout -1", {"key": "k", "rollout_percentage": -1}, "rollout_percentage"),
    ("description too long", {"key": "k", "description": "é" * 1001}, "description"),
    ("description number", {"key": "k", "description": 5}, "description"),
    ("description with NUL", {"key": "k", "description": "a\x00b"}, "description"),
    ("description lone surrogate", {"key": "k", "description": "\ud800"}, "description"),
    ("rules not a list", {"key": "k", "rules": {}}, "rules"),
    ("rules null", {"key": "k", "rules": None}, "rules"),
    ("too many rules", {"key": "k", "rules": [RULE] * 101}, "rules"),
    ("rule not an object", {"key": "k", "rules": [RULE, "x"]}, "rules[1]"),
    (
        "unknown operator",
        {"key": "k", "rules": [{**RULE, "operator": "Regex"}]},
        "rules[0].operator",
    ),
    (
        "operator wrong case",
        {"key": "k", "rules": [{**RULE, "operator": "equals"}]},
        "rules[0].operator",
    ),
    (
        "missing operator",
        {"key": "k", "rules": [{"attribute": "a", "values": []}]},
        "rules[0].operator",
    ),
    ("empty attribute", {"key": "k", "rules": [{**RULE, "attribute": ""}]}, "rules[0].attribute"),
    (
        "attribute too long",
        {"key": "k", "rules": [{**RULE, "attribute": "a" * 101}]},
        "rules[0].attribute",
    ),
    ("attribute number", {"key": "k", "rules": [{**RULE, "attribute": 3}]}, "rules[0].attribute"),
    ("values not a list", {"key": "k", "rules": [{**RULE, "values": "x"}]}, "rules[0].values"),
    (
        "value a number",
        {"key": "k", "rules": [{**RULE, "values": ["a", "b", "c", 4]}]},
        "rules[0].values[3]",
    ),
    ("value null", {"key": "k", "rules": [{**RULE, "values": [None]}]}, "rules[0].values[0]"),
    (
        "too many values",
        {"key": "k", "rules": [{**RULE, "values": ["v"] * 10_001}]},
        "rules[0].values",
    ),
    ("unknown rule field", {"key": "k", "rules": [{**RULE, "negate": True}]}, "rules[0].negate"),
    ("unknown field", {"key": "k", "enabled": True}, "enabled"),
]


@pytest.mark.parametrize(
    ("data", "path"), [case[1:] for case in BAD_FLAGS], ids=[c[0] for c in BAD_FLAGS]
)
def test_bad_flag_is_rejected_naming_the_field(data: Any, path: str) -> None:
    with pytest.raises(FlagValidationError) as raised:
        validate_flag(data)
    assert path in raised.value.errors, raised.value.errors


@pytest.mark.parametrize("body", [[], [{"key": "k"}], "k", 5, None])
def test_a_body_that_is_not_an_object_is_rejected(body: Any) -> None:
    with pytest.raises(FlagValidationError) as raised:
        validate_flag(body)
    assert raised.value.errors == {}
    assert "JSON object" in raised.value.detail


def test_defaults_fill_omitted_fields_and_server_fields_are_ignored() -> None:
    assert validate_flag({"key": "a.b-c_1", "version": "anything", "updated_at": None}) == {
        "key": "a.b-c_1",
        "is_enabled": False,
        "rollout_percentage": None,
        "description": None,
        "rules": [],
    }


def test_limits_are_inclusive() -> None:
    flag = validate_flag(
        {
            "key": "k" * 100,
            "rollout_percentage": 100,
            "description": "é" * 1000,
            "rules": [{**RULE, "attribute": "a" * 100, "values": ["v"] * 10_000}] * 100,
        }
    )
    assert len(flag["rules"]) == 100


def test_strings_are_kept_exactly() -> None:
    flag = validate_flag(
        {"key": "k", "description": "  padded  ", "rules": [{**RULE, "values": [" a ", ""]}]}
    )
    assert flag["description"] == "  padded  "
    assert flag["rules"][0]["values"] == [" a ", ""]


def test_patch_accepts_any_subset_and_reports_every_problem_at_once() -> None:
    assert validate_flag_patch({}) == {}
    assert validate_flag_patch({"rollout_percentage": None}) == {"rollout_percentage": None}
    with pytest.raises(FlagValidationError) as raised:
        validate_flag_patch(
            {"is_enabled": 1, "rollout_percentage": "5", "rules": [{"operator": "X"}]}
        )
    assert set(raised.value.errors) == {
        "is_enabled",
        "rollout_percentage",
        "rules[0].operator",
        "rules[0].attribute",
        "rules[0].values",
    }
