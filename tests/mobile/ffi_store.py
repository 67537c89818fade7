"""A Python twin of the Flutter FlagStore (sdks/flutter/lib/src/flag_store.dart) over ctypes.

It makes the same C calls in the same order with the same conversions, so the shared vectors run
here prove what the Dart code would do with the same library.
"""

from __future__ import annotations

import ctypes
import math
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
MAX_EXACT_INTEGER = 2.0**53


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
    reason: str
    rule_index: int | None
    bucket: int | None
    version: int | None


def attribute_text(value: object) -> str | None:
    """attributeText() in flag_store.dart: the string a host value becomes, or None to drop it."""
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


class FfiFlagStore:
    """One sk_store in single-threaded mode, as FlagStore in Dart holds it."""

    def __init__(self, api: NativeApi) -> None:
        self.api = api
        self.store = api.sk_store_new(0)
        if not self.store:
            raise MemoryError("sk_store_new failed")
        self.evaluation = api.structs["SkEvaluation"]()

    def close(self) -> None:
        if self.store:
            self.api.sk_store_free(self.store)
            self.store = None

    def upsert(self, flag: Mapping[str, Any]) -> bool:
        built = self._build_flag(flag)
        # The store takes the flag whatever it returns.
        status = self.api.sk_store_upsert(self.store, built)
        if status < 0:
            raise RuntimeError(f"sk_store_upsert: {self._status_name(status)}")
        return bool(status == SK_OK)

    def delete(self, key: str, version: int = 0) -> bool:
        data = dart_utf8(key)
        status = self.api.sk_store_remove(self.store, data, len(data), version)
        if status < 0 and status != SK_ERR_NOT_FOUND:
            raise RuntimeError(f"sk_store_remove: {self._status_name(status)}")
        return bool(status == SK_OK)

    def clear(self) -> None:
        self.api.sk_store_clear(self.store)

    def __len__(self) -> int:
        return int(self.api.sk_store_count(self.store))

    def version(self, key: str) -> int:
        data = dart_utf8(key)
        return int(self.api.sk_store_version(self.store, data, len(data)))

    def is_enabled(
        self, flag_key: str, user_key: str, attributes: Mapping[str, object] | None = None
    ) -> bool:
        flag, user, array, count, _keep = self._prepare(flag_key, user_key, attributes)
        result = self.api.sk_store_is_enabled(
            self.store, flag, len(flag), user, len(user), array, count
        )
        return bool(result != 0)

    def evaluate(
        self, flag_key: str, user_key: str, attributes: Mapping[str, object] | None = None
    ) -> Evaluation:
        flag, user, array, count, _keep = self._prepare(flag_key, user_key, attributes)
        out = self.evaluation
        self.api.sk_store_evaluate(
            self.store, flag, len(flag), user, len(user), array, count, ctypes.byref(out)
        )
        return Evaluation(
            enabled=out.enabled != 0,
            reason=self.api.sk_reason_name(out.reason).decode(),
            rule_index=None if out.ruleIndex < 0 else out.ruleIndex,
            bucket=None if out.bucket < 0 else out.bucket,
            version=None if out.reason == 0 else out.version,
        )

    def evaluate_by_handle(
        self, flag_key: str, user_key: str, attributes: Mapping[str, object] | None = None
    ) -> tuple[bool, Evaluation]:
        """sk_store_find, then sk_flag_is_enabled and sk_flag_evaluate on the handle."""
        flag, user, array, count, _keep = self._prepare(flag_key, user_key, attributes)
        handle = self.api.sk_store_find(self.store, flag, len(flag))
        enabled = self.api.sk_flag_is_enabled(handle, user, len(user), array, count)
        out = self.api.structs["SkEvaluation"]()
        status = self.api.sk_flag_evaluate(handle, user, len(user), array, count, ctypes.byref(out))
        if status != SK_OK:
            raise RuntimeError(f"sk_flag_evaluate: {self._status_name(status)}")
        evaluation = Evaluation(
            enabled=out.enabled != 0,
            reason=self.api.sk_reason_name(out.reason).decode(),
            rule_index=None if out.ruleIndex < 0 else out.ruleIndex,
            bucket=None if out.bucket < 0 else out.bucket,
            version=None if out.reason == 0 else out.version,
        )
        return bool(enabled != 0), evaluation

    def _prepare(
        self, flag_key: str, user_key: str, attributes: Mapping[str, object] | None
    ) -> tuple[bytes, bytes, Any, int, list[bytes]]:
        pairs: list[tuple[bytes, bytes]] = []
        for name, value in (attributes or {}).items():
            text = attribute_text(value)
            if text is not None:
                pairs.append((dart_utf8(name), dart_utf8(text)))
        attribute_type = self.api.structs["SkAttribute"]
        array = (attribute_type * max(len(pairs), 1))()
        keep: list[bytes] = []
        for index, (name_bytes, value_bytes) in enumerate(pairs):
            array[index] = attribute_type(
                name_bytes, len(name_bytes), value_bytes, len(value_bytes)
            )
            keep += [name_bytes, value_bytes]
        return dart_utf8(flag_key), dart_utf8(user_key), array, len(pairs), keep

    def _build_flag(self, wire: Mapping[str, Any]) -> Any:
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
        version = 0
        version_value = wire.get("version")
        if version_value is not None:
            number = None if isinstance(version_value, bool) else wire_integer(version_value)
            if number is None or number < 0:
                raise FlagFormatError("version", "must be a non-negative integer")
            version = number
        rules = wire.get("rules", [])
        if not isinstance(rules, list):
            raise FlagFormatError("rules", "must be a list")

        key_bytes = dart_utf8(key)
        out = ctypes.c_void_p()
        status = self.api.sk_flag_new(
            key_bytes, len(key_bytes), enabled, rollout, version, ctypes.byref(out)
        )
        if status == SK_ERR_BAD_KEY:
            raise FlagFormatError("key", "must be 1-100 characters of A-Z a-z 0-9 _ - .")
        if status != SK_OK:
            raise RuntimeError(f"sk_flag_new: {self._status_name(status)}")
        flag = out.value
        try:
            for index, rule in enumerate(rules):
                self._add_rule(flag, rule, f"rules[{index}]")
        except BaseException:
            self.api.sk_flag_free(flag)
            raise
        return flag

    def _add_rule(self, flag: Any, rule: object, path: str) -> None:
        if not isinstance(rule, dict):
            raise FlagFormatError(path, "must be an object")
        attribute = rule.get("attribute")
        if not isinstance(attribute, str):
            raise FlagFormatError(f"{path}.attribute", "must be a string")
        operator_name = rule.get("operator")
        if not isinstance(operator_name, str):
            raise FlagFormatError(f"{path}.operator", "must be a string")
        operator_bytes = dart_utf8(operator_name)
        op = self.api.sk_operator_parse(operator_bytes, len(operator_bytes))
        if op < 0:
            raise FlagFormatError(f"{path}.operator", "must be one of the five operators")
        values = rule.get("values")
        if not isinstance(values, list):
            raise FlagFormatError(f"{path}.values", "must be a list of strings")
        attribute_bytes = dart_utf8(attribute)
        status = self.api.sk_flag_add_rule(flag, attribute_bytes, len(attribute_bytes), op)
        if status == SK_ERR_BAD_ATTRIBUTE:
            raise FlagFormatError(f"{path}.attribute", "must not be empty")
        if status == SK_ERR_TOO_MANY_RULES:
            raise FlagFormatError("rules", "at most 100 rules")
        if status != SK_OK:
            raise RuntimeError(f"sk_flag_add_rule: {self._status_name(status)}")
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise FlagFormatError(f"{path}.values[{index}]", "must be a string")
            value_bytes = dart_utf8(value)
            status = self.api.sk_flag_add_value(flag, value_bytes, len(value_bytes))
            if status == SK_ERR_TOO_MANY_VALUES:
                raise FlagFormatError(f"{path}.values", "at most 10000 values")
            if status != SK_OK:
                raise RuntimeError(f"sk_flag_add_value: {self._status_name(status)}")

    def _status_name(self, status: int) -> str:
        return str(self.api.sk_status_name(status).decode())
