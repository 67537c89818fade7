"""The pure-Python twin of the compiled evaluation core: same API, same answers, same errors.

Used where the Cython extension is not built (or SIDEKICK_NO_EXTENSIONS=1). It also holds the
pieces both implementations share on purpose: wire validation (so that every error message is
identical, and `upsert` is not a hot path) and the `Evaluation` result type.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import mmh3

_hash = mmh3.hash

__all__ = [
    "IMPLEMENTATION",
    "Evaluation",
    "FlagStore",
    "ParsedFlag",
    "ParsedRule",
    "bucket",
    "murmur3_32",
    "parse_wire_flag",
]

IMPLEMENTATION = "python"

OPERATORS = ("Equals", "NotEquals", "Contains", "StartsWith", "EndsWith")
EQUALS, NOT_EQUALS, CONTAINS, STARTS_WITH, ENDS_WITH = range(len(OPERATORS))
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

    enabled: bool
    reason: str  # FLAG_NOT_FOUND, OFF, RULE_MATCH or ROLLOUT
    rule_index: int | None  # the matching rule's index, for RULE_MATCH only
    bucket: int | None  # 0..99 when a percentage between 1 and 99 applied
    version: int | None  # the flag's version (0 = unversioned); None when not found


class ParsedRule(NamedTuple):
    attribute: str
    attribute_utf8: bytes
    operator: int  # index into OPERATORS, the same numbering as sk_operator
    values: tuple[bytes, ...]
    value_set: frozenset[bytes]  # for Equals / NotEquals in the twin: one hash lookup
    # The twin's FlagStore sets it for Contains with many values (see above); the compiled core
    # parses with the same function and builds its own matchers, so parsing leaves it None.
    automaton: ContainsAutomaton | None


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
    rules: tuple[ParsedRule, ...]
    version: int  # 0 = unversioned
    wire: dict[str, Any]  # a private copy of what was sent, unknown fields kept


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


def _parse_rules(raw: object, key: str) -> tuple[ParsedRule, ...]:
    if not isinstance(raw, list | tuple):
        raise _fail("rules", f"must be a list, got {_type_name(raw)}", key)
    if len(raw) > MAX_RULES:
        raise _fail("rules", f"at most {MAX_RULES} rules, got {len(raw)}", key)
    rules = []
    for index, rule in enumerate(raw):
        path = f"rules[{index}]"
        if not isinstance(rule, Mapping):
            raise _fail(path, f"must be an object, got {_type_name(rule)}", key)
        attribute = rule.get("attribute")
        if not isinstance(attribute, str) or not attribute:
            raise _fail(f"{path}.attribute", "must be a non-empty string", key)
        operator = rule.get("operator")
        if not isinstance(operator, str) or operator not in OPERATORS:
            raise _fail(
                f"{path}.operator", f"must be one of {', '.join(OPERATORS)}, got {operator!r}", key
            )
        values = rule.get("values")
        if not isinstance(values, list | tuple):
            raise _fail(f"{path}.values", f"must be a list, got {_type_name(values)}", key)
        if len(values) > MAX_VALUES_PER_RULE:
            message = f"at most {MAX_VALUES_PER_RULE} values, got {len(values)}"
            raise _fail(f"{path}.values", message, key)
        for value_index, value in enumerate(values):
            if not isinstance(value, str):
                message = f"must be a string, got {_type_name(value)}"
                raise _fail(f"{path}.values[{value_index}]", message, key)
        encoded = tuple(utf8(value) for value in values)
        # The name is kept well-formed: callers' names are looked up as str, and one holding a
        # lone surrogate never matches (it would have no single UTF-8 spelling to agree on).
        attribute = well_formed(attribute)
        op = OPERATORS.index(operator)
        rules.append(ParsedRule(attribute, utf8(attribute), op, encoded, frozenset(encoded), None))
    return tuple(rules)


def _wire_copy(flag: Mapping[str, Any]) -> dict[str, Any]:
    """A copy deep enough that a caller mutating its dict cannot change what the store reports."""
    wire = dict(flag)
    if "rules" in wire:
        wire["rules"] = [{**rule, "values": list(rule["values"])} for rule in wire["rules"]]
    return wire


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
    rules = _parse_rules(flag.get("rules", []), key)
    version = flag.get("version", 0)
    if not _is_int(version) or not 0 <= version <= MAX_VERSION:
        raise _fail("version", f"must be an integer from 0 to 2**64-1, got {version!r}", key)
    return ParsedFlag(key, enabled, int(rollout), rules, int(version), _wire_copy(flag))


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
    for index, (attribute, _, operator, values, value_set, automaton) in enumerate(rules):
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
        self._flags[parsed.key] = parsed._replace(rules=_with_automata(parsed.rules))
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
        """As is_enabled, with the reason, matching rule, bucket and version."""
        _require_str(flag_key, user_key)
        if attributes is not None:
            _require_mapping(attributes)
        flag = self._flags.get(flag_key)
        if flag is None:
            return _NOT_FOUND
        if not flag.enabled:
            return Evaluation(False, "OFF", None, None, flag.version)
        if flag.rules and attributes:
            index = _first_matching_rule(flag.rules, attributes)
            if index >= 0:
                return Evaluation(True, "RULE_MATCH", index, None, flag.version)
        rollout = flag.rollout
        if rollout == _ROLLOUT_NULL or rollout >= 100:
            return Evaluation(True, "ROLLOUT", None, None, flag.version)
        if rollout == 0:
            return Evaluation(False, "ROLLOUT", None, None, flag.version)
        user_bucket = _bucket(flag_key, user_key)
        return Evaluation(user_bucket < rollout, "ROLLOUT", None, user_bucket, flag.version)
