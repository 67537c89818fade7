"""Version 2 (typed flags) pieces both implementations share: wire validation of the v2 fields,
the numeric and SemVer readings of values, and the typed getters' rule.

The compiled core validates the same values itself (sk_flag_add_value refuses what does not
parse); these checks come first so that both implementations raise the same field-path errors.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = [
    "FLAG_TYPES",
    "MAX_CONDITIONS",
    "MAX_JSON_VALUE_BYTES",
    "MAX_VARIANTS",
    "NUMERIC_OPERATORS",
    "SEMVER_OPERATORS",
    "SPLIT_TOTAL",
    "VARIANT_OFF",
    "VARIANT_ON",
    "Serve",
    "TypedRule",
    "attribute_number",
    "parse_number",
    "parse_semver",
    "semver_key",
    "typed_get",
]

FLAG_TYPES = ("boolean", "string", "number", "json")
NUMERIC_OPERATORS = ("Gt", "Gte", "Lt", "Lte")
SEMVER_OPERATORS = ("SemverEq", "SemverGt", "SemverLt")
MAX_CONDITIONS = 20
MAX_VARIANTS = 100
MAX_JSON_VALUE_BYTES = 64 * 1024
SPLIT_TOTAL = 1000
# A boolean flag's implicit variants, numbered as sidekick.h numbers them.
VARIANT_OFF = 0
VARIANT_ON = 1
BOOLEAN_VARIANT_KEYS = ("off", "on")
BOOLEAN_VARIANT_VALUES = (False, True)

# JSON's number grammar, ASCII digits only (`\d` would accept other scripts' digits).
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMERIC_ID = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"({_NUMERIC_ID})\.({_NUMERIC_ID})\.({_NUMERIC_ID})"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def parse_number(text: str) -> float | None:
    """text read with JSON's number grammar as a double (Python's float() rounds correctly and
    ignores locales), or None. `1e400` is inf, `1e-400` 0.0."""
    if not _NUMBER.fullmatch(text):
        return None
    return float(text)


def attribute_number(value: object) -> float | None:
    """What the numeric operators compare for a host value: numbers by value (bool is not a
    number), strings in JSON's grammar; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return parse_number(value)
    return None


SemVer = tuple[int, int, int, tuple[tuple[int, int | str], ...] | None]


def parse_semver(text: str) -> SemVer | None:
    """A SemVer 2.0.0 version as (major, minor, patch, pre-release identifiers or None)."""
    match = _SEMVER.fullmatch(text)
    if match is None:
        return None
    pre = match.group(4)
    identifiers = None
    if pre is not None:
        identifiers = tuple(
            (0, int(part)) if part.isdigit() else (1, part) for part in pre.split(".")
        )
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), identifiers


def semver_key(version: SemVer) -> tuple[Any, ...]:
    """A sort key giving semver.org's precedence: a release after its pre-releases, numeric
    identifiers before alphanumeric ones, fewer identifiers first when the rest are equal."""
    major, minor, patch, pre = version
    if pre is None:
        return (major, minor, patch, 1, ())
    return (major, minor, patch, 0, pre)


class Serve(NamedTuple):
    """One variant (split empty) or a split: (variant index, running end of weights) pairs."""

    variant: int
    split: tuple[tuple[int, int], ...]


class TypedRule(NamedTuple):
    conditions: tuple[Any, ...]  # ParsedRule, one per condition
    serve: Serve


Fail = Callable[[str, str], ValueError]


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def check_variant_value(flag_type: str, value: object, path: str, fail: Fail) -> None:
    if flag_type == "string" and not isinstance(value, str):
        raise fail(path, f"must be a string for a string flag, got {_type_name(value)}")
    if flag_type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(path, f"must be a number for a number flag, got {_type_name(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise fail(path, f"must be a finite number, got {value!r}")
    if flag_type == "json":
        try:
            encoded = json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as error:
            raise fail(path, f"must be a JSON value ({error})") from None
        if len(encoded) > MAX_JSON_VALUE_BYTES:
            raise fail(path, f"at most {MAX_JSON_VALUE_BYTES} bytes of JSON, got {len(encoded)}")


def parse_serve(raw: object, path: str, variant_index: Mapping[str, int], fail: Fail) -> Serve:
    """A wire serve, {"variant": K} or {"split": [{"variant": K, "weight": W}, ...]}."""
    if not isinstance(raw, Mapping):
        raise fail(path, f"must be an object, got {_type_name(raw)}")
    has_variant = "variant" in raw
    has_split = "split" in raw
    if has_variant == has_split:
        raise fail(path, 'must have exactly one of "variant" and "split"')
    if has_variant:
        return Serve(_variant_of(raw["variant"], f"{path}.variant", variant_index, fail), ())
    split = raw["split"]
    if not isinstance(split, list | tuple) or not 1 <= len(split) <= MAX_VARIANTS:
        raise fail(f"{path}.split", f"must be a list of 1 to {MAX_VARIANTS} entries")
    entries = []
    total = 0
    for index, entry in enumerate(split):
        where = f"{path}.split[{index}]"
        if not isinstance(entry, Mapping):
            raise fail(where, f"must be an object, got {_type_name(entry)}")
        variant = _variant_of(entry.get("variant"), f"{where}.variant", variant_index, fail)
        weight = entry.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 1000:
            raise fail(f"{where}.weight", f"must be an integer from 0 to 1000, got {weight!r}")
        total += weight
        entries.append((variant, total))
    if total != SPLIT_TOTAL:
        raise fail(f"{path}.split", f"weights must add up to {SPLIT_TOTAL}, got {total}")
    return Serve(-1, tuple(entries))


def _variant_of(key: object, path: str, variant_index: Mapping[str, int], fail: Fail) -> int:
    if not isinstance(key, str) or key not in variant_index:
        known = ", ".join(variant_index)
        raise fail(path, f"must name a variant ({known}), got {key!r}")
    return variant_index[key]


def serve_variant(serve: Serve, flag_key: bytes, hashed: bytes, hash32: Any) -> tuple[int, int]:
    """(variant index, bucket or -1) a serve gives; hash32(data, seed) is murmur3_x86_32."""
    if not serve.split:
        return serve.variant, -1
    bucket = hash32(flag_key + b":" + hashed, 86028157) % SPLIT_TOTAL
    for variant, end in serve.split:
        if bucket < end:
            return variant, bucket
    return serve.split[-1][0], bucket


_WANTED = {"string": "string", "number": "number", "json": "json", "boolean": "boolean"}


def typed_get(
    store: Any, wanted: str, flag_key: Any, user_key: Any, attributes: Any, default: Any
) -> Any:
    """The typed getters' rule: the served value when the flag exists and is of the wanted type,
    else default; never raises."""
    try:
        wire = store.get(flag_key)
        if wire is None or wire.get("type", "boolean") != _WANTED[wanted]:
            return default
        evaluation = store.evaluate(flag_key, user_key, attributes)
    except (TypeError, ValueError):
        return default
    if evaluation.reason == "FLAG_NOT_FOUND":
        return default
    return evaluation.value
