"""Strict validation of wire-format flag input, shared by REST, the admin and import_flags.

Types are exact (`"50"` is not a number, `1` is not a boolean, `50.5` is not an integer) and every
problem is reported under its field path (`rules[2].operator`, `rules[0].values[3]`), so a caller
learns everything wrong with a body in one answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flags.exceptions import FlagValidationError
from flags.models import (
    ATTRIBUTE_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    FLAG_KEY_MAX_LENGTH,
    MAX_RULES,
    MAX_VALUES_PER_RULE,
    Operator,
)

# Python's `fullmatch` with the same character classes as the database constraint.
_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Fields a client may send; `version` and `updated_at` are the server's and ignored on input, so a
# client can send back exactly what it read.
WRITABLE_FIELDS = ("key", "is_enabled", "rollout_percentage", "description", "rules", "client_side")
IGNORED_FIELDS = ("version", "updated_at")
RULE_FIELDS = ("attribute", "operator", "values")

Errors = dict[str, list[str]]


def _add(errors: Errors, path: str, message: str) -> None:
    errors.setdefault(path, []).append(message)


def _text_problem(value: str) -> str | None:
    """Text PostgreSQL cannot store: NUL characters and lone surrogates (invalid UTF-8)."""
    if "\x00" in value:
        return "Must not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Must be valid Unicode text (no lone surrogates)."
    return None


def key_problem(key: Any) -> str | None:
    """Why `key` is not a valid flag key, or None when it is."""
    if not isinstance(key, str):
        return "Must be a string."
    if not 1 <= len(key) <= FLAG_KEY_MAX_LENGTH:
        return f"Must be 1 to {FLAG_KEY_MAX_LENGTH} characters long."
    if not _KEY_PATTERN.fullmatch(key):
        return "Only A-Z a-z 0-9 _ - . are allowed, starting with a letter or digit."
    return None


def _check_key(errors: Errors, value: Any) -> None:
    problem = key_problem(value)
    if problem:
        _add(errors, "key", problem)


def _check_is_enabled(errors: Errors, value: Any) -> None:
    if not isinstance(value, bool):
        _add(errors, "is_enabled", "Must be a boolean (true or false).")


def _check_client_side(errors: Errors, value: Any) -> None:
    if not isinstance(value, bool):
        _add(errors, "client_side", "Must be a boolean (true or false).")


def _check_rollout(errors: Errors, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        _add(errors, "rollout_percentage", "Must be an integer from 0 to 100, or null.")
    elif not 0 <= value <= 100:
        _add(errors, "rollout_percentage", "Must be from 0 to 100.")


def _check_description(errors: Errors, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        _add(errors, "description", "Must be a string or null.")
        return
    if len(value) > DESCRIPTION_MAX_LENGTH:
        _add(errors, "description", f"Must be at most {DESCRIPTION_MAX_LENGTH} characters.")
    problem = _text_problem(value)
    if problem:
        _add(errors, "description", problem)


def _check_rule(errors: Errors, path: str, rule: Any) -> None:
    if not isinstance(rule, Mapping):
        _add(errors, path, "Must be an object with attribute, operator and values.")
        return
    for name in rule:
        if name not in RULE_FIELDS:
            _add(errors, f"{path}.{name}", "Unknown field.")
    for name in RULE_FIELDS:
        if name not in rule:
            _add(errors, f"{path}.{name}", "This field is required.")

    if "attribute" in rule:
        attribute = rule["attribute"]
        if not isinstance(attribute, str):
            _add(errors, f"{path}.attribute", "Must be a string.")
        elif not 1 <= len(attribute) <= ATTRIBUTE_MAX_LENGTH:
            _add(
                errors, f"{path}.attribute", f"Must be 1 to {ATTRIBUTE_MAX_LENGTH} characters long."
            )
        elif problem := _text_problem(attribute):
            _add(errors, f"{path}.attribute", problem)

    if "operator" in rule:
        operator = rule["operator"]
        if not isinstance(operator, str) or operator not in Operator.values:
            _add(errors, f"{path}.operator", f"Must be one of {', '.join(Operator.values)}.")

    if "values" in rule:
        values = rule["values"]
        if not isinstance(values, list):
            _add(errors, f"{path}.values", "Must be a list of strings.")
            return
        if len(values) > MAX_VALUES_PER_RULE:
            _add(errors, f"{path}.values", f"At most {MAX_VALUES_PER_RULE} values per rule.")
            return
        for index, value in enumerate(values):
            if not isinstance(value, str):
                _add(errors, f"{path}.values[{index}]", "Must be a string.")
            elif problem := _text_problem(value):
                _add(errors, f"{path}.values[{index}]", problem)


def _check_rules(errors: Errors, value: Any) -> None:
    if not isinstance(value, list):
        _add(errors, "rules", "Must be a list of rules.")
        return
    if len(value) > MAX_RULES:
        _add(errors, "rules", f"At most {MAX_RULES} rules per flag.")
        return
    for index, rule in enumerate(value):
        _check_rule(errors, f"rules[{index}]", rule)


_CHECKS = {
    "key": _check_key,
    "is_enabled": _check_is_enabled,
    "rollout_percentage": _check_rollout,
    "description": _check_description,
    "rules": _check_rules,
    "client_side": _check_client_side,
}


def _validate_fields(data: Any, *, partial: bool) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise FlagValidationError({}, detail="The body must be a JSON object.")
    errors: Errors = {}
    for name in data:
        if not isinstance(name, str) or (name not in _CHECKS and name not in IGNORED_FIELDS):
            _add(errors, str(name), "Unknown field.")
    if not partial and "key" not in data:
        _add(errors, "key", "This field is required.")
    for name, check in _CHECKS.items():
        if name in data:
            check(errors, data[name])
    if errors:
        raise FlagValidationError(errors)
    return {name: data[name] for name in WRITABLE_FIELDS if name in data}


def validate_flag(data: Any) -> dict[str, Any]:
    """A whole flag (create or replace): the writable fields with their defaults filled in.

    Except `client_side`, present only when sent: a new flag without it is not client-side, and
    a replace without it keeps the flag's current value (a v1 body, which cannot know the
    field, must not hide a flag from browsers).
    """
    fields = _validate_fields(data, partial=False)
    whole = {
        "key": fields["key"],
        "is_enabled": fields.get("is_enabled", False),
        "rollout_percentage": fields.get("rollout_percentage"),
        "description": fields.get("description"),
        "rules": [_copy_rule(rule) for rule in fields.get("rules", [])],
    }
    if "client_side" in fields:
        whole["client_side"] = fields["client_side"]
    return whole


def validate_flag_patch(data: Any) -> dict[str, Any]:
    """A partial flag (PATCH): only the fields provided; `rules`, if present, is the whole list."""
    fields = _validate_fields(data, partial=True)
    if "rules" in fields:
        fields["rules"] = [_copy_rule(rule) for rule in fields["rules"]]
    return fields


def _copy_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "attribute": rule["attribute"],
        "operator": rule["operator"],
        "values": list(rule["values"]),
    }
