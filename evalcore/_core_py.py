"""The pure-Python twin of the compiled evaluation core: same API, same answers, same errors.

Used where the Cython extension is not built (or SIDEKICK_NO_EXTENSIONS=1). It also holds the
pieces both implementations share on purpose: wire validation (so that every error message is
identical, and `upsert` is not a hot path) and the `Evaluation` result type.
"""

from __future__ import annotations

import copy
import math
import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import mmh3

from evalcore import _typed
from evalcore._typed import Serve, TypedRule

_hash = mmh3.hash

__all__ = [
    "IMPLEMENTATION",
    "Evaluation",
    "FlagStore",
    "ParsedFlag",
    "ParsedRule",
    "bucket",
    "murmur3_32",
    "parse_number",
    "parse_wire_flag",
]

parse_number = _typed.parse_number

IMPLEMENTATION = "python"

# Numbered as sk_operator: the five text operators of version 1, then version 2's.
OPERATORS = (
    "Equals",
    "NotEquals",
    "Contains",
    "StartsWith",
    "EndsWith",
    *_typed.NUMERIC_OPERATORS,
    *_typed.SEMVER_OPERATORS,
)
EQUALS, NOT_EQUALS, CONTAINS, STARTS_WITH, ENDS_WITH, GT, GTE, LT, LTE = range(9)
SEMVER_EQ, SEMVER_GT, SEMVER_LT = range(9, 12)
TEXT_OPERATORS = frozenset(range(5))
FLAG_TYPE_CODES = {name: code for code, name in enumerate(_typed.FLAG_TYPES)}
MAX_RULES = 100
MAX_VALUES_PER_RULE = 10_000
MAX_VERSION = 2**64 - 1
# Floats at or beyond 2**53 are not all integers a JavaScript SDK can tell apart, so no SDK
# passes them on.
MAX_EXACT_FLOAT = 2.0**53
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
# Contains rules with more values than this get an automaton at upsert. Up to it, one `in` per
# value is faster (CPython's substring search is linear in the text), and the cost per attribute
# byte stays bounded by the number of values.
AUTOMATON_MIN_VALUES = 65
_ROLLOUT_NULL = -1


class Evaluation(NamedTuple):
    """Why a flag evaluated as it did (`FlagStore.evaluate`)."""

    enabled: bool  # served "on" of a boolean flag; False for every other type
    reason: str  # FLAG_NOT_FOUND, OFF, RULE_MATCH or ROLLOUT
    rule_index: int | None  # the matching rule's index, for RULE_MATCH only
    bucket: int | None  # 0..99 when a rollout percentage applied, 0..999 when a split did
    version: int | None  # the flag's version (0 = unversioned); None when not found
    value: Any = None  # the served variant's value (boolean flags: True/False); None if not found
    variant: str | None = None  # the served variant's key (boolean: "on"/"off"); None if not found


class ParsedRule(NamedTuple):
    attribute: str
    attribute_utf8: bytes
    operator: int  # index into OPERATORS, the same numbering as sk_operator
    values: tuple[bytes, ...]
    value_set: frozenset[bytes]  # for Equals / NotEquals in the twin: one hash lookup
    # The twin's FlagStore sets it for Contains with many values (see above); the compiled core
    # parses with the same function and builds its own matchers, so parsing leaves it None.
    automaton: ContainsAutomaton | None
    negate: bool = False
    numbers: tuple[float, ...] = ()  # the values of a numeric operator, as doubles
    versions: tuple[tuple[Any, ...], ...] = ()  # the values of a SemVer operator, as sort keys


class ContainsAutomaton:
    """Whether any of many byte strings occurs in a text, in one pass over the text.

    Aho-Corasick: a trie of the values whose failure links send a state that cannot continue to
    the longest suffix of what was read that is still a trie path; a state accepts when a value
    ends there or at a suffix of it. StartsWith / EndsWith need no such thing in the twin:
    `bytes.startswith(tuple)` costs the values' total length whatever the attribute's length.
    """

    __slots__ = ("_accepts", "_fail", "_goto", "_matches_all")

    def __init__(self, values: Iterable[bytes]) -> None:
        goto: list[dict[int, int]] = [{}]
        accepts = [False]
        self._matches_all = False
        for value in values:
            if not value:
                self._matches_all = True  # the empty value is in every text
                continue
            state = 0
            for byte in value:
                following = goto[state].get(byte)
                if following is None:
                    following = len(goto)
                    goto[state][byte] = following
                    goto.append({})
                    accepts.append(False)
                state = following
            accepts[state] = True
        fail = [0] * len(goto)
        queue = deque(goto[0].values())  # the root's children fail to the root
        while queue:
            state = queue.popleft()
            for byte, child in goto[state].items():
                queue.append(child)
                suffix = fail[state]
                while suffix and byte not in goto[suffix]:
                    suffix = fail[suffix]
                fail[child] = goto[suffix].get(byte, 0)
                accepts[child] = accepts[child] or accepts[fail[child]]
        self._goto = goto
        self._fail = fail
        self._accepts = accepts

    def search(self, text: bytes) -> bool:
        if self._matches_all:
            return True
        goto, fail, accepts = self._goto, self._fail, self._accepts
        state = 0
        for byte in text:
            while state and byte not in goto[state]:
                state = fail[state]
            state = goto[state].get(byte, 0)
            if accepts[state]:
                return True
        return False


class ParsedFlag(NamedTuple):
    key: str
    enabled: bool
    rollout: int  # 0..100, or -1 for null (= 100)
    rules: tuple[ParsedRule, ...]  # a simple flag's one-condition rules (see `simple`)
    version: int  # 0 = unversioned
    wire: dict[str, Any]  # a private copy of what was sent, unknown fields kept
    flag_type: str = "boolean"
    variant_keys: tuple[str, ...] = _typed.BOOLEAN_VARIANT_KEYS
    variant_values: tuple[Any, ...] = _typed.BOOLEAN_VARIANT_VALUES
    typed_rules: tuple[TypedRule, ...] = ()  # every rule, in the general form
    fallthrough: Serve | None = None  # non-boolean flags
    off_variant: int = _typed.VARIANT_OFF
    bucket_by: str | None = None
    # A version 1 flag: boolean, text operators only, no negate, serve or bucket_by. Such a
    # flag is evaluated by the version 1 paths, whose cost the benchmarks pin.
    simple: bool = True


def well_formed(text: str) -> str:
    """text with each lone surrogate (JSON allows "\\ud800") replaced by U+FFFD.

    What a WHATWG TextEncoder does, so every binding hashes and compares the same bytes: the
    string goes through UTF-16, where an adjacent high/low pair becomes one character again and
    the decoder's replacement covers the rest.
    """
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def utf8(text: str) -> bytes:
    """UTF-8 bytes of text, lone surrogates as U+FFFD; never raises."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return well_formed(text).encode("utf-8")


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _fail(path: str, message: str, key: str | None) -> ValueError:
    where = f" (flag {key!r})" if key is not None else ""
    return ValueError(f"{path}: {message}{where}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_condition(
    condition: Mapping[str, Any], path: str, key: str, *, with_negate: bool = True
) -> ParsedRule:
    """One condition: attribute, operator, values and (version 2) negate."""
    attribute = condition.get("attribute")
    if not isinstance(attribute, str) or not attribute:
        raise _fail(f"{path}.attribute", "must be a non-empty string", key)
    operator = condition.get("operator")
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise _fail(
            f"{path}.operator", f"must be one of {', '.join(OPERATORS)}, got {operator!r}", key
        )
    values = condition.get("values")
    if not isinstance(values, list | tuple):
        raise _fail(f"{path}.values", f"must be a list, got {_type_name(values)}", key)
    if len(values) > MAX_VALUES_PER_RULE:
        message = f"at most {MAX_VALUES_PER_RULE} values, got {len(values)}"
        raise _fail(f"{path}.values", message, key)
    for value_index, value in enumerate(values):
        if not isinstance(value, str):
            message = f"must be a string, got {_type_name(value)}"
            raise _fail(f"{path}.values[{value_index}]", message, key)
    negate = condition.get("negate", False) if with_negate else False
    if not isinstance(negate, bool):
        raise _fail(f"{path}.negate", f"must be a boolean, got {_type_name(negate)}", key)
    op = OPERATORS.index(operator)
    numbers: tuple[float, ...] = ()
    versions: tuple[tuple[Any, ...], ...] = ()
    if op in (GT, GTE, LT, LTE):
        parsed_numbers = []
        for value_index, value in enumerate(values):
            number = _typed.parse_number(value)
            if number is None:
                message = f"must be a number in JSON's grammar for {operator}, got {value!r}"
                raise _fail(f"{path}.values[{value_index}]", message, key)
            parsed_numbers.append(number)
        numbers = tuple(parsed_numbers)
    elif op in (SEMVER_EQ, SEMVER_GT, SEMVER_LT):
        parsed_versions = []
        for value_index, value in enumerate(values):
            version = _typed.parse_semver(value)
            if version is None:
                message = f"must be a SemVer 2.0.0 version for {operator}, got {value!r}"
                raise _fail(f"{path}.values[{value_index}]", message, key)
            parsed_versions.append(_typed.semver_key(version))
        versions = tuple(parsed_versions)
    encoded = tuple(utf8(value) for value in values)
    # The name is kept well-formed: callers' names are looked up as str, and one holding a
    # lone surrogate never matches (it would have no single UTF-8 spelling to agree on).
    attribute = well_formed(attribute)
    return ParsedRule(
        attribute,
        utf8(attribute),
        op,
        encoded,
        frozenset(encoded),
        None,
        negate,
        numbers,
        versions,
    )


def _parse_rules(
    raw: object, key: str, flag_type: str, variant_index: Mapping[str, int]
) -> tuple[TypedRule, ...]:
    if not isinstance(raw, list | tuple):
        raise _fail("rules", f"must be a list, got {_type_name(raw)}", key)
    if len(raw) > MAX_RULES:
        raise _fail("rules", f"at most {MAX_RULES} rules, got {len(raw)}", key)

    def fail(path: str, message: str) -> ValueError:
        return _fail(path, message, key)

    rules = []
    for index, rule in enumerate(raw):
        path = f"rules[{index}]"
        if not isinstance(rule, Mapping):
            raise _fail(path, f"must be an object, got {_type_name(rule)}", key)
        if "conditions" in rule:
            for short in ("attribute", "operator", "values", "negate"):
                if short in rule:
                    message = f'a rule with "conditions" has no "{short}" of its own'
                    raise _fail(f"{path}.{short}", message, key)
            raw_conditions = rule["conditions"]
            if (
                not isinstance(raw_conditions, list | tuple)
                or not 1 <= len(raw_conditions) <= _typed.MAX_CONDITIONS
            ):
                message = f"must be a list of 1 to {_typed.MAX_CONDITIONS} conditions"
                raise _fail(f"{path}.conditions", message, key)
            conditions = []
            for number, condition in enumerate(raw_conditions):
                where = f"{path}.conditions[{number}]"
                if not isinstance(condition, Mapping):
                    raise _fail(where, f"must be an object, got {_type_name(condition)}", key)
                conditions.append(_parse_condition(condition, where, key))
        else:
            conditions = [_parse_condition(rule, path, key)]
        if "serve" in rule:
            serve = _typed.parse_serve(rule["serve"], f"{path}.serve", variant_index, fail)
        elif flag_type == "boolean":
            serve = Serve(_typed.VARIANT_ON, ())
        else:
            raise _fail(f"{path}.serve", f"is required on a {flag_type} flag", key)
        rules.append(TypedRule(tuple(conditions), serve))
    return tuple(rules)


def _parse_variants(raw: object, key: str, flag_type: str) -> tuple[tuple[str, Any], ...]:
    if not isinstance(raw, list | tuple) or not 1 <= len(raw) <= _typed.MAX_VARIANTS:
        message = f"must be a list of 1 to {_typed.MAX_VARIANTS} variants on a {flag_type} flag"
        raise _fail("variants", message, key)

    def fail(path: str, message: str) -> ValueError:
        return _fail(path, message, key)

    variants: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for index, variant in enumerate(raw):
        path = f"variants[{index}]"
        if not isinstance(variant, Mapping):
            raise _fail(path, f"must be an object, got {_type_name(variant)}", key)
        variant_key = variant.get("key")
        if not isinstance(variant_key, str) or not _KEY.fullmatch(variant_key):
            message = f"must follow the key rule (1-100 of A-Z a-z 0-9 _ - .), got {variant_key!r}"
            raise _fail(f"{path}.key", message, key)
        if variant_key in seen:
            raise _fail(f"{path}.key", f"duplicate variant key {variant_key!r}", key)
        seen.add(variant_key)
        if "value" not in variant:
            raise _fail(f"{path}.value", "is required", key)
        _typed.check_variant_value(flag_type, variant["value"], f"{path}.value", fail)
        name = variant.get("name")
        if name is not None and not isinstance(name, str):
            raise _fail(f"{path}.name", f"must be a string, got {_type_name(name)}", key)
        variants.append((variant_key, variant["value"]))
    return tuple(variants)


def _is_simple(flag_type: str, rules: tuple[TypedRule, ...], bucket_by: str | None) -> bool:
    return (
        flag_type == "boolean"
        and bucket_by is None
        and all(
            len(rule.conditions) == 1
            and rule.serve == (_typed.VARIANT_ON, ())
            and not rule.conditions[0].negate
            and rule.conditions[0].operator in TEXT_OPERATORS
            for rule in rules
        )
    )


def _wire_copy(flag: Mapping[str, Any]) -> dict[str, Any]:
    """A copy deep enough that a caller mutating its dict cannot change what the store reports."""
    wire = dict(flag)
    if "rules" in wire:
        wire["rules"] = [_copy_rule(rule) for rule in wire["rules"]]
    for field in ("variants", "fallthrough"):
        if field in wire:
            wire[field] = copy.deepcopy(wire[field])
    return wire


def _copy_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    copied = dict(rule)
    if "values" in copied:
        copied["values"] = list(copied["values"])
    if "conditions" in copied:
        copied["conditions"] = [
            {**condition, "values": list(condition["values"])} for condition in copied["conditions"]
        ]
    if "serve" in copied:
        copied["serve"] = copy.deepcopy(copied["serve"])
    return copied


def parse_wire_flag(flag: Mapping[str, Any]) -> ParsedFlag:
    """Validates a wire-format flag; ValueError messages start with the offending field's path."""
    if not isinstance(flag, Mapping):
        raise TypeError(f"a flag must be a mapping, got {_type_name(flag)}")
    if "key" not in flag:
        raise _fail("key", "is required", None)
    key = flag["key"]
    if not isinstance(key, str):
        raise _fail("key", f"must be a string, got {_type_name(key)}", None)
    if not _KEY.fullmatch(key):
        message = f"must be 1-100 of A-Z a-z 0-9 _ - . starting with a letter or digit, got {key!r}"
        raise _fail("key", message, None)
    enabled = flag.get("is_enabled", False)
    if not isinstance(enabled, bool):
        raise _fail("is_enabled", f"must be a boolean, got {_type_name(enabled)}", key)
    rollout = flag.get("rollout_percentage")
    if rollout is None:
        rollout = _ROLLOUT_NULL
    elif not _is_int(rollout) or not 0 <= rollout <= 100:
        message = f"must be an integer from 0 to 100 or null, got {rollout!r}"
        raise _fail("rollout_percentage", message, key)
    flag_type = flag.get("type", "boolean")
    if flag_type not in _typed.FLAG_TYPES or not isinstance(flag_type, str):
        message = f"must be one of {', '.join(_typed.FLAG_TYPES)}, got {flag_type!r}"
        raise _fail("type", message, key)
    boolean = flag_type == "boolean"
    if boolean:
        for field in ("variants", "off_variant", "fallthrough"):
            if flag.get(field) is not None:
                raise _fail(field, "is for non-boolean flags only", key)
        variant_keys: tuple[str, ...] = _typed.BOOLEAN_VARIANT_KEYS
        variant_values: tuple[Any, ...] = _typed.BOOLEAN_VARIANT_VALUES
    else:
        if rollout != _ROLLOUT_NULL:
            message = f"must be null on a {flag_type} flag, got {rollout!r}"
            raise _fail("rollout_percentage", message, key)
        variants = _parse_variants(flag.get("variants"), key, flag_type)
        variant_keys = tuple(variant_key for variant_key, _ in variants)
        variant_values = tuple(value for _, value in variants)
    variant_index = {variant_key: index for index, variant_key in enumerate(variant_keys)}
    bucket_by = flag.get("bucket_by")
    if bucket_by is not None and (not isinstance(bucket_by, str) or not bucket_by):
        raise _fail("bucket_by", f"must be a non-empty string or null, got {bucket_by!r}", key)
    typed_rules = _parse_rules(flag.get("rules", []), key, flag_type, variant_index)
    fallthrough = None
    off_variant = _typed.VARIANT_OFF
    if not boolean:

        def fail(path: str, message: str) -> ValueError:
            return _fail(path, message, key)

        if flag.get("fallthrough") is None:
            raise _fail("fallthrough", f"is required on a {flag_type} flag", key)
        fallthrough = _typed.parse_serve(flag["fallthrough"], "fallthrough", variant_index, fail)
        off_key = flag.get("off_variant")
        if not isinstance(off_key, str) or off_key not in variant_index:
            message = f"must name a variant ({', '.join(variant_keys)}), got {off_key!r}"
            raise _fail("off_variant", message, key)
        off_variant = variant_index[off_key]
    version = flag.get("version", 0)
    if not _is_int(version) or not 0 <= version <= MAX_VERSION:
        raise _fail("version", f"must be an integer from 0 to 2**64-1, got {version!r}", key)
    simple = _is_simple(flag_type, typed_rules, bucket_by)
    rules = tuple(rule.conditions[0] for rule in typed_rules) if simple else ()
    return ParsedFlag(
        key,
        enabled,
        int(rollout),
        rules,
        int(version),
        _wire_copy(flag),
        flag_type,
        variant_keys,
        variant_values,
        typed_rules,
        fallthrough,
        off_variant,
        well_formed(bucket_by) if bucket_by is not None else None,
        simple,
    )


def validate_version(version: object) -> int:
    if not _is_int(version) or not 0 <= version <= MAX_VERSION:  # type: ignore[operator]
        raise ValueError(f"version: must be an integer from 0 to 2**64-1, got {version!r}")
    return int(version)  # type: ignore[call-overload]


def murmur3_32(data: bytes | bytearray | memoryview | str, seed: int = 0) -> int:
    """Unsigned MurmurHash3 x86_32 of the bytes (a str is hashed as its UTF-8)."""
    if not _is_int(seed) or not 0 <= seed <= 0xFFFFFFFF:
        raise ValueError(f"seed: must be an integer from 0 to 2**32-1, got {seed!r}")
    payload = utf8(data) if isinstance(data, str) else bytes(data)
    return int(mmh3.hash(payload, seed, signed=False))


def _bucket(flag_key: str, user_key: str) -> int:
    joined = f"{flag_key}:{user_key}"
    # mmh3 hashes an ASCII str as is (its UTF-8); anything else is encoded here, lone surrogates
    # as U+FFFD (mmh3 itself crashes the interpreter on them).
    return int(_hash(joined if joined.isascii() else utf8(joined), 0, False)) % 100


def bucket(flag_key: str, user_key: str) -> int:
    """The user's rollout bucket (0..99) for the flag."""
    _require_str(flag_key, user_key)
    return _bucket(flag_key, user_key)


def _require_str(flag_key: object, user_key: object) -> None:
    if not isinstance(flag_key, str) or not isinstance(user_key, str):
        raise TypeError("flag_key and user_key must be str")


def _require_mapping(attributes: object) -> None:
    if not isinstance(attributes, dict | Mapping):
        raise TypeError(f"attributes must be a mapping or None, got {_type_name(attributes)}")


def attribute_text(value: object) -> bytes | None:
    """The UTF-8 a host value is compared as, or None when it can never match."""
    if isinstance(value, str):
        return utf8(value)
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        try:
            return str(int(value)).encode()
        except ValueError:  # past sys.get_int_max_str_digits(): too long to ever be a value
            return None
    if isinstance(value, float):
        number = float(value)
        if math.isfinite(number) and number.is_integer() and abs(number) < MAX_EXACT_FLOAT:
            return str(int(number)).encode()
    return None


def _first_matching_rule(rules: tuple[ParsedRule, ...], attributes: Mapping[Any, Any]) -> int:
    """Index of the first rule that matches, or -1. Attributes are looked up by name.

    One flat loop with the rule tuples unpacked: this is the twin's hot path.
    """
    for index, (attribute, _, operator, values, value_set, automaton, _, _, _) in enumerate(rules):
        value = attributes.get(attribute, _ABSENT)
        if value is _ABSENT:
            continue
        if type(value) is str:
            text = utf8(value)
        else:
            converted = attribute_text(value)
            if converted is None:
                continue
            text = converted
        if operator == EQUALS:
            if text in value_set:
                return index
        elif operator == NOT_EQUALS:
            if text not in value_set:
                return index
        elif operator == CONTAINS:
            if automaton is not None:
                if automaton.search(text):
                    return index
            elif any(candidate in text for candidate in values):
                return index
        elif operator == STARTS_WITH:
            if text.startswith(values):
                return index
        elif text.endswith(values):
            return index
    return -1


_ABSENT = object()
_NOT_FOUND = Evaluation(False, "FLAG_NOT_FOUND", None, None, None)


def _condition_holds(condition: ParsedRule, attributes: Mapping[Any, Any]) -> bool:
    """A version 2 condition: missing is false even negated; negate inverts anything else."""
    value = attributes.get(condition.attribute, _ABSENT)
    if value is _ABSENT:
        return False
    operator = condition.operator
    if operator in TEXT_OPERATORS:
        text = attribute_text(value)
        holds = text is not None and _text_operator_holds(condition, text)
    elif condition.numbers:
        number = _typed.attribute_number(value)
        holds = number is not None and _numeric_operator_holds(operator, number, condition.numbers)
    else:
        version = _typed.parse_semver(value) if isinstance(value, str) else None
        holds = version is not None and _semver_operator_holds(
            operator, _typed.semver_key(version), condition.versions
        )
    return holds != condition.negate


def _text_operator_holds(condition: ParsedRule, text: bytes) -> bool:
    operator = condition.operator
    if operator == EQUALS:
        return text in condition.value_set
    if operator == NOT_EQUALS:
        return text not in condition.value_set
    if operator == CONTAINS:
        if condition.automaton is not None:
            return condition.automaton.search(text)
        return any(candidate in text for candidate in condition.values)
    if operator == STARTS_WITH:
        return text.startswith(condition.values)
    return text.endswith(condition.values)


def _numeric_operator_holds(operator: int, number: float, bounds: tuple[float, ...]) -> bool:
    if operator == GT:
        return any(number > bound for bound in bounds)
    if operator == GTE:
        return any(number >= bound for bound in bounds)
    if operator == LT:
        return any(number < bound for bound in bounds)
    return any(number <= bound for bound in bounds)


def _semver_operator_holds(
    operator: int, version: tuple[Any, ...], bounds: tuple[tuple[Any, ...], ...]
) -> bool:
    if operator == SEMVER_EQ:
        return any(version == bound for bound in bounds)
    if operator == SEMVER_GT:
        return any(version > bound for bound in bounds)
    return any(version < bound for bound in bounds)


def _hashed_key(flag: ParsedFlag, user_key: str, attributes: Mapping[Any, Any]) -> bytes:
    """b of the contract: the bucket_by attribute's text when it has one, else the user key."""
    if flag.bucket_by is not None:
        text = attribute_text(attributes.get(flag.bucket_by, _ABSENT))
        if text is not None:
            return text
    return utf8(user_key)


def _evaluate_typed(
    flag: ParsedFlag, user_key: str, attributes: Mapping[Any, Any] | None
) -> Evaluation:
    """Version 2 evaluation of any flag (the contract's algorithm, section 4.1)."""
    table: Mapping[Any, Any] = attributes if attributes is not None else {}
    boolean = flag.flag_type == "boolean"

    def answer(reason: str, variant: int, rule_index: int | None, bucket: int) -> Evaluation:
        return Evaluation(
            boolean and variant == _typed.VARIANT_ON,
            reason,
            rule_index,
            bucket if bucket >= 0 else None,
            flag.version,
            flag.variant_values[variant],
            flag.variant_keys[variant],
        )

    def serve(chosen: Serve) -> tuple[int, int]:
        if not chosen.split:
            return chosen.variant, -1
        return _typed.serve_variant(
            chosen, utf8(flag.key), _hashed_key(flag, user_key, table), _hash_bytes
        )

    if not flag.enabled:
        return answer("OFF", flag.off_variant, None, -1)
    for index, rule in enumerate(flag.typed_rules):
        if all(_condition_holds(condition, table) for condition in rule.conditions):
            variant, bucket = serve(rule.serve)
            return answer("RULE_MATCH", variant, index, bucket)
    if flag.fallthrough is not None:
        variant, bucket = serve(flag.fallthrough)
        return answer("ROLLOUT", variant, None, bucket)
    rollout = flag.rollout
    if rollout == _ROLLOUT_NULL or rollout >= 100:
        return answer("ROLLOUT", _typed.VARIANT_ON, None, -1)
    if rollout == 0:
        return answer("ROLLOUT", _typed.VARIANT_OFF, None, -1)
    hashed = utf8(flag.key) + b":" + _hashed_key(flag, user_key, table)
    user_bucket = _hash_bytes(hashed, 0) % 100
    on = user_bucket < rollout
    return answer("ROLLOUT", _typed.VARIANT_ON if on else _typed.VARIANT_OFF, None, user_bucket)


def _hash_bytes(data: bytes, seed: int) -> int:
    return int(_hash(data, seed, False))


def _with_automata(rules: tuple[ParsedRule, ...]) -> tuple[ParsedRule, ...]:
    """The rules as the twin evaluates them: many-value Contains rules get their automaton."""
    return tuple(
        rule._replace(automaton=ContainsAutomaton(rule.values))
        if rule.operator == CONTAINS and len(rule.values) >= AUTOMATON_MIN_VALUES
        else rule
        for rule in rules
    )


class FlagStore:
    """Flags by key with version-aware writes, evaluated in-process (see sidekick.h)."""

    __slots__ = ("_flags", "_tombstones")

    def __init__(self) -> None:
        self._flags: dict[str, ParsedFlag] = {}
        self._tombstones: dict[str, int] = {}

    def upsert(self, flag: Mapping[str, Any]) -> bool:
        """Stores a wire-format flag unless a newer version is held; returns whether it applied."""
        parsed = parse_wire_flag(flag)
        current = self._flags.get(parsed.key)
        held = current.version if current is not None else self._tombstones.get(parsed.key, 0)
        if parsed.version and held and parsed.version <= held:
            return False
        self._flags[parsed.key] = parsed._replace(
            rules=_with_automata(parsed.rules),
            typed_rules=tuple(
                rule._replace(conditions=_with_automata(rule.conditions))
                for rule in parsed.typed_rules
            ),
        )
        self._tombstones.pop(parsed.key, None)
        return True

    def delete(self, key: str, version: int = 0) -> bool:
        """Removes the flag unless it is as new as the delete; returns whether one was removed.

        A versioned delete is remembered (a tombstone) so that an older upsert arriving later is
        ignored, also when the flag was never stored here.
        """
        if not isinstance(key, str):
            raise TypeError(f"key must be str, got {type(key).__name__}")
        version = validate_version(version)
        current = self._flags.get(key)
        if current is None:
            if version:
                self._tombstones[key] = max(version, self._tombstones.get(key, 0))
            return False
        if version and current.version and version <= current.version:
            return False
        del self._flags[key]
        if version:
            self._tombstones[key] = version
        return True

    def clear(self) -> None:
        """Forgets every flag and every tombstone."""
        self._flags.clear()
        self._tombstones.clear()

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored wire dict (treat it as read-only), or None."""
        parsed = self._flags.get(key)
        return parsed.wire if parsed is not None else None

    def flags(self) -> list[dict[str, Any]]:
        """Every stored wire dict, in insertion order."""
        return [parsed.wire for parsed in self._flags.values()]

    def __len__(self) -> int:
        return len(self._flags)

    def __contains__(self, key: object) -> bool:
        return key in self._flags

    def is_enabled(
        self, flag_key: str, user_key: str, attributes: Mapping[Any, Any] | None = None
    ) -> bool:
        """Whether the flag is on for the user; never raises for a missing flag or odd attributes.

        Raises TypeError only for a non-str key or attributes that are not a mapping.
        """
        if attributes is not None and type(attributes) is not dict:
            _require_mapping(attributes)
        flag = self._flags.get(flag_key)
        if flag is None or type(user_key) is not str:
            _require_str(flag_key, user_key)
            if flag is None:
                return False
        if not flag.simple:
            if attributes is not None and type(attributes) is not dict:
                attributes = dict(attributes.items())
            return _evaluate_typed(flag, user_key, attributes).enabled
        if not flag.enabled:
            return False
        if flag.rules and attributes and _first_matching_rule(flag.rules, attributes) >= 0:
            return True
        rollout = flag.rollout
        if rollout < 0 or rollout >= 100:
            return True
        return rollout > 0 and _bucket(flag_key, user_key) < rollout

    def evaluate(
        self, flag_key: str, user_key: str, attributes: Mapping[Any, Any] | None = None
    ) -> Evaluation:
        """The served variant's value and key, with the reason, matching rule, bucket and
        version; `enabled` is is_enabled's answer."""
        _require_str(flag_key, user_key)
        if attributes is not None:
            _require_mapping(attributes)
            if type(attributes) is not dict:
                attributes = dict(attributes.items())
        flag = self._flags.get(flag_key)
        if flag is None:
            return _NOT_FOUND
        return _evaluate_typed(flag, user_key, attributes)

    def get_boolean(
        self,
        flag_key: str,
        user_key: str,
        attributes: Mapping[Any, Any] | None = None,
        default: bool = False,
    ) -> bool:
        """A boolean flag's answer; default when it is missing or of another type."""
        return _typed.typed_get(self, "boolean", flag_key, user_key, attributes, default)

    def get_string(
        self,
        flag_key: str,
        user_key: str,
        attributes: Mapping[Any, Any] | None = None,
        default: str = "",
    ) -> str:
        """A string flag's served value; default when it is missing or of another type."""
        return _typed.typed_get(self, "string", flag_key, user_key, attributes, default)

    def get_number(
        self,
        flag_key: str,
        user_key: str,
        attributes: Mapping[Any, Any] | None = None,
        default: float = 0,
    ) -> float:
        """A number flag's served value; default when it is missing or of another type."""
        return _typed.typed_get(self, "number", flag_key, user_key, attributes, default)

    def get_json(
        self,
        flag_key: str,
        user_key: str,
        attributes: Mapping[Any, Any] | None = None,
        default: Any = None,
    ) -> Any:
        """A json flag's served value; default when it is missing or of another type."""
        return _typed.typed_get(self, "json", flag_key, user_key, attributes, default)
