"""A Python twin of the Flutter FlagStore (sdks/flutter/lib/src/flag_store.dart) over ctypes.

It makes the same C calls in the same order with the same conversions, so the shared vectors run
here prove what the Dart code would do with the same library.
"""

from __future__ import annotations

import copy
import ctypes
import json
import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from evalcore._core_py import utf8
from tests.mobile.native_library import NativeApi

SK_OK = 0
SK_IGNORED_STALE = 1
SK_ERR_BAD_KEY = -3
SK_ERR_BAD_ATTRIBUTE = -6
SK_ERR_TOO_MANY_RULES = -7
SK_ERR_TOO_MANY_VALUES = -8
SK_ERR_NOT_FOUND = -10
SK_ERR_BAD_VALUE = -14
MAX_EXACT_INTEGER = 2.0**53
MAX_RULES = 100
MAX_CONDITIONS = 20
MAX_VARIANTS = 100
MAX_VALUES_PER_CONDITION = 10000
SPLIT_TOTAL = 1000
MAX_JSON_VALUE_BYTES = 64 * 1024
FLAG_TYPES = ("boolean", "string", "number", "json")
BOOLEAN, STRING, NUMBER, JSON = range(4)
SERVE_RULE, SERVE_FALLTHROUGH = 0, 1
KIND_TEXT, KIND_NUMBER, KIND_BOOL, KIND_OTHER = range(4)
# Dart ints are 64-bit: jsonDecode gives a double for an integer literal beyond them.
DART_INT_MIN, DART_INT_MAX = -(2**63), 2**63 - 1
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")


def dart_utf8(text: str) -> bytes:
    """What Dart's `utf8.encoder` gives: UTF-8, each unpaired surrogate as U+FFFD."""
    return utf8(text)


class FlagFormatError(ValueError):
    """The Dart FlagFormatException: a wire flag the core cannot take, with its field path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class Evaluation(NamedTuple):
    enabled: bool
    value: Any
    variant: str | None
    reason: str
    rule_index: int | None
    bucket: int | None
    version: int | None


class Variants(NamedTuple):
    """_Variants in flag_store.dart: a stored flag's type and variants, by index."""

    type: int
    keys: tuple[str, ...]
    values: tuple[Any, ...]


BOOLEAN_VARIANTS = Variants(BOOLEAN, ("off", "on"), (False, True))


class Serve(NamedTuple):
    variant: int
    split_variants: tuple[int, ...] = ()
    split_weights: tuple[int, ...] = ()


def attribute_text(value: object) -> str | None:
    """attributeText() in flag_store.dart: the text version 1 gave a host value, or None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if (
        isinstance(value, float)
        and math.isfinite(value)
        and value == math.trunc(value)
        and abs(value) < MAX_EXACT_INTEGER
    ):
        return str(int(value))
    return None


def dart_value(value: Any) -> Any:
    """What Dart's jsonDecode gives for a decoded JSON value: an integer beyond 64 bits is a
    double. Applied to vector inputs so the twin sees the values the Dart code would."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if DART_INT_MIN <= value <= DART_INT_MAX else float(value)
    if isinstance(value, list):
        return [dart_value(item) for item in value]
    if isinstance(value, dict):
        return {key: dart_value(item) for key, item in value.items()}
    return value


def wire_integer(value: object) -> int | None:
    """_wireInteger() in flag_store.dart (booleans are excluded by its callers)."""
    if isinstance(value, int):
        return value
    if (
        isinstance(value, float)
        and math.isfinite(value)
        and value == math.trunc(value)
        and abs(value) < MAX_EXACT_INTEGER
    ):
        return int(value)
    return None


def typed_value(value: object) -> tuple[int, bytes | None, float]:
    """_typedValue() in flag_store.dart: (kind, text or None, number) of a host value."""
    if isinstance(value, str):
        return KIND_TEXT, dart_utf8(value), 0.0
    if isinstance(value, bool):
        return KIND_BOOL, None, 1.0 if value else 0.0
    if isinstance(value, int):
        return KIND_NUMBER, dart_utf8(str(value)), float(value)
    if isinstance(value, float):
        return KIND_NUMBER, None, value
    return KIND_OTHER, None, 0.0


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _dart_json_size(value: Any) -> int:
    """The UTF-8 length of Dart's jsonEncode (compact separators, non-ASCII as is)."""
    encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return len(encoded.encode("utf-8"))


class FfiFlagStore:
    """One sk_store in single-threaded mode, as FlagStore in Dart holds it."""

    def __init__(self, api: NativeApi) -> None:
        self.api = api
        self.store = api.sk_store_new(0)
        if not self.store:
            raise MemoryError("sk_store_new failed")
        self.evaluation = api.structs["SkTypedEvaluation"]()
        self.variants: dict[str, Variants] = {}

    def close(self) -> None:
        if self.store:
            self.api.sk_store_free(self.store)
            self.store = None
            self.variants.clear()

    def upsert(self, flag: Mapping[str, Any]) -> bool:
        built, variants = self._build_flag(flag)
        # The store takes the flag whatever it returns.
        status = self.api.sk_store_upsert(self.store, built)
        if status < 0:
            raise RuntimeError(f"sk_store_upsert: {self._status_name(status)}")
        if status == SK_OK:
            self.variants[flag["key"]] = variants
        return bool(status == SK_OK)

    def delete(self, key: str, version: int = 0) -> bool:
        data = dart_utf8(key)
        status = self.api.sk_store_remove(self.store, data, len(data), version)
        if status < 0 and status != SK_ERR_NOT_FOUND:
            raise RuntimeError(f"sk_store_remove: {self._status_name(status)}")
        if status == SK_OK:
            self.variants.pop(key, None)
        return bool(status == SK_OK)

    def clear(self) -> None:
        self.api.sk_store_clear(self.store)
        self.variants.clear()

    def __len__(self) -> int:
        return int(self.api.sk_store_count(self.store))

    def version(self, key: str) -> int:
        data = dart_utf8(key)
        return int(self.api.sk_store_version(self.store, data, len(data)))

    def is_enabled(
        self, flag_key: str, user_key: str, attributes: Mapping[str, object] | None = None
    ) -> bool:
        if not self.store:
            return False
        self._evaluate_native(flag_key, user_key, attributes)
        return bool(self.evaluation.enabled != 0)

    def evaluate(
        self, flag_key: str, user_key: str, attributes: Mapping[str, object] | None = None
    ) -> Evaluation:
        self._evaluate_native(flag_key, user_key, attributes)
        return self._result(flag_key, self.evaluation)

    def get_boolean(self, flag_key: str, user_key: str, default: bool, attributes=None) -> Any:
        return self._typed(BOOLEAN, flag_key, user_key, attributes, default)

    def get_string(self, flag_key: str, user_key: str, default: str, attributes=None) -> Any:
        return self._typed(STRING, flag_key, user_key, attributes, default)

    def get_number(self, flag_key: str, user_key: str, default: float, attributes=None) -> Any:
        return self._typed(NUMBER, flag_key, user_key, attributes, default)

    def get_json(self, flag_key: str, user_key: str, default: Any, attributes=None) -> Any:
        return self._typed(JSON, flag_key, user_key, attributes, default)

    def _typed(
        self,
        flag_type: int,
        flag_key: str,
        user_key: str,
        attributes: Mapping[str, object] | None,
        default: Any,
    ) -> Any:
        stored = self.variants.get(flag_key)
        if not self.store or stored is None or stored.type != flag_type:
            return default
        self._evaluate_native(flag_key, user_key, attributes)
        variant = self.evaluation.variant
        return default if variant < 0 else self.variants[flag_key].values[variant]

    def evaluate_by_handle(
        self, flag_key: str, user_key: str, attributes: Mapping[str, object] | None = None
    ) -> tuple[bool, Evaluation]:
        """sk_store_find, then version 1's sk_flag_is_enabled (attributes as attributeText gives
        them) and sk_flag_evaluate_typed on the handle. Dart binds both; FlagStore uses neither,
        so this checks that the handle answers as the store does."""
        flag, user, array, count, _keep = self._typed_attributes(flag_key, user_key, attributes)
        handle = self.api.sk_store_find(self.store, flag, len(flag))
        text_array, text_count, _text_keep = self._text_attributes(attributes)
        enabled = self.api.sk_flag_is_enabled(handle, user, len(user), text_array, text_count)
        out = self.api.structs["SkTypedEvaluation"]()
        status = self.api.sk_flag_evaluate_typed(
            handle, user, len(user), array, count, ctypes.byref(out)
        )
        if status != SK_OK:
            raise RuntimeError(f"sk_flag_evaluate_typed: {self._status_name(status)}")
        return bool(enabled != 0), self._result(flag_key, out)

    def _text_attributes(
        self, attributes: Mapping[str, object] | None
    ) -> tuple[Any, int, list[bytes]]:
        pairs = [
            (dart_utf8(name), dart_utf8(text))
            for name, value in (attributes or {}).items()
            if (text := attribute_text(value)) is not None
        ]
        attribute_type = self.api.structs["SkAttribute"]
        array = (attribute_type * max(len(pairs), 1))()
        for index, (name_bytes, value_bytes) in enumerate(pairs):
            array[index] = attribute_type(
                name_bytes, len(name_bytes), value_bytes, len(value_bytes)
            )
        return array, len(pairs), [b for pair in pairs for b in pair]

    def _result(self, flag_key: str, out: Any) -> Evaluation:
        found = out.variant >= 0
        variants = self.variants.get(flag_key) if found else None
        return Evaluation(
            enabled=out.enabled != 0,
            value=None if variants is None else variants.values[out.variant],
            variant=None if variants is None else variants.keys[out.variant],
            reason=self.api.sk_reason_name(out.reason).decode(),
            rule_index=None if out.ruleIndex < 0 else out.ruleIndex,
            bucket=None if out.bucket < 0 else out.bucket,
            version=out.version if found else None,
        )

    def _evaluate_native(
        self, flag_key: str, user_key: str, attributes: Mapping[str, object] | None
    ) -> None:
        flag, user, array, count, _keep = self._typed_attributes(flag_key, user_key, attributes)
        self.api.sk_store_evaluate_typed(
            self.store,
            flag,
            len(flag),
            user,
            len(user),
            array,
            count,
            ctypes.byref(self.evaluation),
        )

    def _typed_attributes(
        self, flag_key: str, user_key: str, attributes: Mapping[str, object] | None
    ) -> tuple[bytes, bytes, Any, int, list[bytes]]:
        attribute_type = self.api.structs["SkTypedAttribute"]
        items = list((attributes or {}).items())
        array = (attribute_type * max(len(items), 1))()
        keep: list[bytes] = []
        for index, (name, value) in enumerate(items):
            name_bytes = dart_utf8(name)
            kind, text, number = typed_value(value)
            array[index] = attribute_type(
                name_bytes, len(name_bytes), text, len(text or b""), number, kind, 0
            )
            keep += [name_bytes, text or b""]
        return dart_utf8(flag_key), dart_utf8(user_key), array, len(items), keep

    def _build_flag(self, wire: Mapping[str, Any]) -> tuple[Any, Variants]:
        key = wire.get("key")
        if not isinstance(key, str):
            raise FlagFormatError("key", "must be a string")
        enabled = wire.get("is_enabled", False)
        if not isinstance(enabled, bool):
            raise FlagFormatError("is_enabled", "must be a boolean")
        rollout = -1
        rollout_value = wire.get("rollout_percentage")
        if rollout_value is not None:
            number = None if isinstance(rollout_value, bool) else wire_integer(rollout_value)
            if number is None:
                raise FlagFormatError("rollout_percentage", "must be an integer or null")
            if number < 0 or number > 100:
                raise FlagFormatError("rollout_percentage", "must be between 0 and 100")
            rollout = number
        type_name = wire.get("type", "boolean")
        flag_type = FLAG_TYPES.index(type_name) if type_name in FLAG_TYPES else -1
        if not isinstance(type_name, str) or flag_type < 0:
            raise FlagFormatError("type", "must be one of " + ", ".join(FLAG_TYPES))
        boolean = flag_type == BOOLEAN
        raw_variants: list[Any] = []
        if boolean:
            for field in ("variants", "off_variant", "fallthrough"):
                if wire.get(field) is not None:
                    raise FlagFormatError(field, "is for non-boolean flags only")
        else:
            if rollout != -1:
                raise FlagFormatError("rollout_percentage", f"must be null on a {type_name} flag")
            variants_value = wire.get("variants")
            if not isinstance(variants_value, list) or not 1 <= len(variants_value) <= 100:
                raise FlagFormatError("variants", "must be a list of 1 to 100 variants")
            raw_variants = variants_value
        version = 0
        version_value = wire.get("version")
        if version_value is not None:
            number = None if isinstance(version_value, bool) else wire_integer(version_value)
            if number is None or number < 0:
                raise FlagFormatError("version", "must be a non-negative integer")
            version = number

        key_bytes = dart_utf8(key)
        out = ctypes.c_void_p()
        status = self.api.sk_flag_new_typed(
            key_bytes,
            len(key_bytes),
            flag_type,
            enabled,
            rollout,
            len(raw_variants),
            version,
            ctypes.byref(out),
        )
        if status == SK_ERR_BAD_KEY:
            raise FlagFormatError("key", "must be 1-100 characters of A-Z a-z 0-9 _ - .")
        if status != SK_OK:
            raise RuntimeError(f"sk_flag_new_typed: {self._status_name(status)}")
        flag = out.value
        try:
            variants = (
                BOOLEAN_VARIANTS if boolean else self._parse_variants(raw_variants, flag_type)
            )
            self._finish_flag(flag, wire, variants, type_name)
        except BaseException:
            self.api.sk_flag_free(flag)
            raise
        return flag, variants

    def _finish_flag(
        self, flag: Any, wire: Mapping[str, Any], variants: Variants, type_name: str
    ) -> None:
        bucket_by = wire.get("bucket_by")
        if bucket_by is not None:
            if not isinstance(bucket_by, str) or not bucket_by:
                raise FlagFormatError("bucket_by", "must be a non-empty string or null")
            data = dart_utf8(bucket_by)
            self._check(self.api.sk_flag_set_bucket_by(flag, data, len(data)), "set_bucket_by")
        rules = wire.get("rules", [])
        if not isinstance(rules, list):
            raise FlagFormatError("rules", "must be a list")
        if len(rules) > MAX_RULES:
            raise FlagFormatError("rules", f"at most {MAX_RULES} rules")
        for index, rule in enumerate(rules):
            self._add_rule(flag, rule, f"rules[{index}]", variants, type_name)
        if variants.type == BOOLEAN:
            return
        fallthrough = wire.get("fallthrough")
        if fallthrough is None:
            raise FlagFormatError("fallthrough", f"is required on a {type_name} flag")
        self._apply_serve(
            flag, SERVE_FALLTHROUGH, self._parse_serve(fallthrough, "fallthrough", variants)
        )
        off_key = wire.get("off_variant")
        off_variant = variants.keys.index(off_key) if off_key in variants.keys else -1
        if not isinstance(off_key, str) or off_variant < 0:
            raise FlagFormatError("off_variant", "must name a variant")
        self._check(self.api.sk_flag_set_off_variant(flag, off_variant), "set_off_variant")

    def _parse_variants(self, raw: list[Any], flag_type: int) -> Variants:
        keys: list[str] = []
        values: list[Any] = []
        for index, variant in enumerate(raw):
            path = f"variants[{index}]"
            if not isinstance(variant, dict):
                raise FlagFormatError(path, f"must be an object, got {_type_name(variant)}")
            variant_key = variant.get("key")
            if not isinstance(variant_key, str) or not KEY_PATTERN.fullmatch(variant_key):
                raise FlagFormatError(f"{path}.key", "must follow the key rule")
            if variant_key in keys:
                raise FlagFormatError(f"{path}.key", f"duplicate variant key {variant_key}")
            if "value" not in variant:
                raise FlagFormatError(f"{path}.value", "is required")
            value = variant["value"]
            self._check_variant_value(flag_type, value, f"{path}.value")
            name = variant.get("name")
            if name is not None and not isinstance(name, str):
                raise FlagFormatError(f"{path}.name", "must be a string")
            keys.append(variant_key)
            values.append(copy.deepcopy(value))
        return Variants(flag_type, tuple(keys), tuple(values))

    @staticmethod
    def _check_variant_value(flag_type: int, value: Any, path: str) -> None:
        if flag_type == STRING and not isinstance(value, str):
            raise FlagFormatError(path, "must be a string for a string flag")
        if flag_type == NUMBER:
            # Dart: `value is! num` (bool is not a num in Dart).
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FlagFormatError(path, "must be a number for a number flag")
            if not math.isfinite(value):
                raise FlagFormatError(path, "must be a finite number")
        if flag_type == JSON:
            try:
                size = _dart_json_size(value)
            except (TypeError, ValueError) as error:
                raise FlagFormatError(path, f"must be a JSON value ({error})") from None
            if size > MAX_JSON_VALUE_BYTES:
                raise FlagFormatError(path, f"at most {MAX_JSON_VALUE_BYTES} bytes of JSON")

    def _add_rule(
        self, flag: Any, rule: object, path: str, variants: Variants, type_name: str
    ) -> None:
        if not isinstance(rule, dict):
            raise FlagFormatError(path, "must be an object")
        conditions: list[tuple[dict[str, Any], str]]
        if "conditions" in rule:
            for short in ("attribute", "operator", "values", "negate"):
                if short in rule:
                    raise FlagFormatError(f"{path}.{short}", "not beside conditions")
            raw = rule["conditions"]
            if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CONDITIONS:
                raise FlagFormatError(f"{path}.conditions", "must be a list of 1 to 20")
            conditions = []
            for index, condition in enumerate(raw):
                where = f"{path}.conditions[{index}]"
                if not isinstance(condition, dict):
                    raise FlagFormatError(where, "must be an object")
                conditions.append((condition, where))
        else:
            conditions = [(rule, path)]
        self._check(self.api.sk_flag_begin_rule(flag), "begin_rule")
        for condition, where in conditions:
            self._add_condition(flag, condition, where)
        if "serve" in rule:
            serve = self._parse_serve(rule["serve"], f"{path}.serve", variants)
            self._apply_serve(flag, SERVE_RULE, serve)
        elif variants.type != BOOLEAN:
            raise FlagFormatError(f"{path}.serve", f"is required on a {type_name} flag")

    def _add_condition(self, flag: Any, condition: dict[str, Any], path: str) -> None:
        attribute = condition.get("attribute")
        if not isinstance(attribute, str) or not attribute:
            raise FlagFormatError(f"{path}.attribute", "must be a non-empty string")
        operator_name = condition.get("operator")
        op = -1
        if isinstance(operator_name, str):
            operator_bytes = dart_utf8(operator_name)
            op = self.api.sk_operator_parse(operator_bytes, len(operator_bytes))
        if op < 0:
            raise FlagFormatError(f"{path}.operator", "must be one of the operators")
        values = condition.get("values")
        if not isinstance(values, list):
            raise FlagFormatError(f"{path}.values", "must be a list of strings")
        if len(values) > MAX_VALUES_PER_CONDITION:
            raise FlagFormatError(f"{path}.values", "at most 10000 values")
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise FlagFormatError(f"{path}.values[{index}]", "must be a string")
        negate = condition.get("negate", False)
        if not isinstance(negate, bool):
            raise FlagFormatError(f"{path}.negate", "must be a boolean")
        attribute_bytes = dart_utf8(attribute)
        self._check(
            self.api.sk_flag_add_condition(flag, attribute_bytes, len(attribute_bytes), op, negate),
            "add_condition",
        )
        for index, value in enumerate(values):
            value_bytes = dart_utf8(value)
            status = self.api.sk_flag_add_value(flag, value_bytes, len(value_bytes))
            if status == SK_ERR_BAD_VALUE:
                raise FlagFormatError(f"{path}.values[{index}]", f"does not parse for {op}")
            self._check(status, "add_value")

    def _parse_serve(self, raw: object, path: str, variants: Variants) -> Serve:
        if not isinstance(raw, dict):
            raise FlagFormatError(path, "must be an object")
        if ("variant" in raw) == ("split" in raw):
            raise FlagFormatError(path, 'must have exactly one of "variant" and "split"')
        if "variant" in raw:
            return Serve(self._variant_index(raw["variant"], f"{path}.variant", variants))
        split = raw["split"]
        if not isinstance(split, list) or not 1 <= len(split) <= MAX_VARIANTS:
            raise FlagFormatError(f"{path}.split", "must be a list of 1 to 100 entries")
        indexes: list[int] = []
        weights: list[int] = []
        for index, entry in enumerate(split):
            where = f"{path}.split[{index}]"
            if not isinstance(entry, dict):
                raise FlagFormatError(where, "must be an object")
            indexes.append(self._variant_index(entry.get("variant"), f"{where}.variant", variants))
            weight = entry.get("weight")
            # Dart: `weight is! int` (a bool is not an int in Dart).
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 1000:
                raise FlagFormatError(f"{where}.weight", "must be an integer from 0 to 1000")
            weights.append(weight)
        if sum(weights) != SPLIT_TOTAL:
            raise FlagFormatError(f"{path}.split", "weights must add up to 1000")
        return Serve(-1, tuple(indexes), tuple(weights))

    @staticmethod
    def _variant_index(key: object, path: str, variants: Variants) -> int:
        if not isinstance(key, str) or key not in variants.keys:
            raise FlagFormatError(path, "must name a variant")
        return variants.keys.index(key)

    def _apply_serve(self, flag: Any, target: int, serve: Serve) -> None:
        if not serve.split_variants:
            self._check(self.api.sk_flag_serve_variant(flag, target, serve.variant), "serve")
            return
        count = len(serve.split_variants)
        variants = (ctypes.c_int32 * count)(*serve.split_variants)
        weights = (ctypes.c_uint32 * count)(*serve.split_weights)
        self._check(
            self.api.sk_flag_serve_split(flag, target, variants, weights, count), "serve_split"
        )

    def _check(self, status: int, function: str) -> None:
        if status != SK_OK:
            raise RuntimeError(f"sk_flag_{function}: {self._status_name(status)}")

    def _status_name(self, status: int) -> str:
        return str(self.api.sk_status_name(status).decode())
