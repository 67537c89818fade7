"""`SidekickProvider`: an OpenFeature provider over the local store (`pip install
sidekick-sdk[openfeature]`).

Every resolution is an in-process evaluation on the compiled core, over a `SidekickClient` (which
follows the server's stream) or an offline `evalcore.FlagStore`; no call touches the network.

Decisions this module makes (docs/python-sdk.md, "OpenFeature", says the same):
- Context: the targeting key is the user key; every other attribute is passed to the core as it
  is. Nested values (lists, objects) and None are present attributes that no operator can compare
  (so only a negated condition holds on them); datetimes are passed as their ISO 8601 text.
- Types: boolean, string and object calls need a flag of type boolean, string and json (an
  object call needs a json value that is an object or a list). Integer and float calls both read
  number flags: a float call returns any number as a float; an integer call returns an integral
  number (`3` or `3.0`) as an int and answers TYPE_MISMATCH for a non-integral one (`2.5`).
- Reasons: OFF -> DISABLED, RULE_MATCH -> TARGETING_MATCH, ROLLOUT -> SPLIT when a bucket
  applied (a percentage rollout or a split) else STATIC; every error -> ERROR with the default.
- TARGETING_KEY_MISSING: only when the answer needs a bucket (a rollout or a split) and neither
  a targeting key nor the flag's `bucket_by` attribute is given; other evaluations need no key.
- Events: READY when the client holds flags: the server's (initialize waits up to
  `init_timeout` for them), or at once a persistent cache's or a bootstrap list's (the stream
  then connects in the background; a client that never connected is not STALE); resolutions
  answer PROVIDER_NOT_READY before that; CONFIGURATION_CHANGED with `flags_changed`
  for each change the stream applies; STALE when an open stream drops (answers continue from the
  last-known flags) and READY again when a stream delivers the server's flags; ERROR with
  PROVIDER_FATAL when the key is refused (401/403) or revoked (the client stops for good).
- Ownership: a provider made with `SidekickProvider.connect(url, key)` owns its client and closes
  it on `shutdown()`; a client passed in stays the caller's (shutdown only stops listening).
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderFatalError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

import evalcore
from sidekick_sdk.client import ConnectionEvent, SidekickAuthError, SidekickClient

__all__ = ["SidekickProvider"]

PROVIDER_NAME = "sidekick"
DEFAULT_INIT_TIMEOUT = 10.0

_REASONS = {"OFF": Reason.DISABLED, "RULE_MATCH": Reason.TARGETING_MATCH}
_NO_ATTRIBUTES: dict[str, Any] = {}


class SidekickProvider(AbstractProvider):
    """OpenFeature resolutions from a Sidekick client's (or an offline store's) flags."""

    def __init__(
        self,
        source: SidekickClient | evalcore.FlagStore,
        *,
        init_timeout: float = DEFAULT_INIT_TIMEOUT,
        owns_client: bool = False,
    ) -> None:
        """`source` is a `SidekickClient` (started by `initialize` if it is not yet) or an
        offline `evalcore.FlagStore`. With `owns_client`, `shutdown()` closes the client."""
        super().__init__()
        self._client = source if isinstance(source, SidekickClient) else None
        self._store = source if self._client is None else None
        self._init_timeout = init_timeout
        self._owns_client = owns_client and self._client is not None
        self._lock = threading.Lock()
        self._listening = False
        self._active = False
        self._lost = False  # STALE or ERROR was emitted: the next sync emits READY
        # A bootstrap list is data: the provider answers from it before the first connection.
        self._bootstrapped = self._client is not None and bool(self._client.flags())

    @classmethod
    def connect(
        cls,
        url: str,
        sdk_key: str | None = None,
        *,
        init_timeout: float = DEFAULT_INIT_TIMEOUT,
        **client_options: Any,
    ) -> SidekickProvider:
        """A provider that owns a new `SidekickClient(url, sdk_key, **client_options)`."""
        client = SidekickClient(url, sdk_key, **client_options)
        return cls(client, init_timeout=init_timeout, owns_client=True)

    @property
    def client(self) -> SidekickClient | None:
        return self._client

    def get_metadata(self) -> Metadata:
        return Metadata(name=PROVIDER_NAME)

    # Lifecycle --------------------------------------------------------------------------------

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Returns once the client holds flags (the registry then emits READY); raises when it
        cannot (the registry emits ERROR, and READY follows when the stream later syncs)."""
        client = self._client
        if client is None:
            return
        with self._lock:
            self._active = True
            if not self._listening:
                self._listening = True
                client.add_listener(
                    on_flags_changed=self._flags_changed, on_connection=self._connection
                )
        if client.is_ready or self._bootstrapped:
            if client.stopped_reason is None:
                client.start()
            return
        try:
            client.init(self._init_timeout)
        except SidekickAuthError as error:
            raise ProviderFatalError(str(error)) from error
        except Exception:
            with self._lock:
                self._lost = True
            raise

    def shutdown(self) -> None:
        """Stops emitting events; closes the client when this provider owns it."""
        with self._lock:
            self._active = False
        if self._owns_client and self._client is not None:
            self._client.close()

    def _flags_changed(self, keys: list[str]) -> None:
        if self._active:
            self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=keys))

    def _connection(self, event: ConnectionEvent) -> None:
        with self._lock:
            if not self._active:
                return
            if event == "synced":
                if not self._lost:
                    return  # the first sync: initialize() returning makes the READY
                self._lost = False
            else:
                self._lost = True
        if event == "synced":
            self.emit_provider_ready(ProviderEventDetails())
        elif event == "disconnected":
            message = "the stream dropped; answering from the last-known flags"
            self.emit_provider_stale(ProviderEventDetails(message=message))
        else:
            reason = self._client.stopped_reason if self._client is not None else None
            self.emit_provider_error(
                ProviderEventDetails(
                    message=f"the server refused the key: {reason}",
                    error_code=ErrorCode.PROVIDER_FATAL,
                )
            )

    # Resolutions ------------------------------------------------------------------------------

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, "boolean")

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, "string")

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, "integer")

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, "float")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._resolve(flag_key, default_value, evaluation_context, "object")

    def _resolve(
        self, flag_key: str, default: Any, context: EvaluationContext | None, wanted: str
    ) -> FlagResolutionDetails[Any]:
        client = self._client
        if client is not None:
            if not (client.is_ready or self._bootstrapped):
                return _error(default, ErrorCode.PROVIDER_NOT_READY, "no flags received yet")
            store = client
        else:
            store = self._store  # type: ignore[assignment]
        wire = store.get(flag_key)
        if wire is None:
            return _error(default, ErrorCode.FLAG_NOT_FOUND, f"no flag {flag_key!r}")
        flag_type = wire.get("type", "boolean")
        if flag_type != _FLAG_TYPE[wanted]:
            message = f"{flag_key!r} is a {flag_type} flag, not {wanted}"
            return _error(default, ErrorCode.TYPE_MISMATCH, message)
        user_key, attributes = _user(context)
        evaluation = store.evaluate(flag_key, user_key or "", attributes)
        if evaluation.reason == "FLAG_NOT_FOUND":  # deleted between the two reads
            return _error(default, ErrorCode.FLAG_NOT_FOUND, f"no flag {flag_key!r}")
        if evaluation.bucket is not None and not user_key and not _has_bucket_by(wire, attributes):
            message = f"{flag_key!r} buckets users: give a targeting key"
            return _error(default, ErrorCode.TARGETING_KEY_MISSING, message)
        value = evaluation.value
        if wanted == "integer":
            if isinstance(value, float):
                if not value.is_integer():
                    message = f"{flag_key!r} served {value!r}, which is not an integer"
                    return _error(default, ErrorCode.TYPE_MISMATCH, message)
                value = int(value)
        elif wanted == "float":
            value = float(value)
        elif wanted == "object" and not isinstance(value, dict | list):
            message = f"{flag_key!r} served a JSON {type(value).__name__}, not an object or list"
            return _error(default, ErrorCode.TYPE_MISMATCH, message)
        return FlagResolutionDetails(
            value=value,
            variant=evaluation.variant,
            reason=_REASONS.get(
                evaluation.reason,
                Reason.SPLIT if evaluation.bucket is not None else Reason.STATIC,
            ),
            flag_metadata=_metadata(evaluation),
        )


_FLAG_TYPE = {
    "boolean": "boolean",
    "string": "string",
    "integer": "number",
    "float": "number",
    "object": "json",
}


def _error(default: Any, code: ErrorCode, message: str) -> FlagResolutionDetails[Any]:
    return FlagResolutionDetails(
        value=default, reason=Reason.ERROR, error_code=code, error_message=message
    )


def _user(context: EvaluationContext | None) -> tuple[str | None, Mapping[str, Any]]:
    if context is None:
        return None, _NO_ATTRIBUTES
    attributes = context.attributes
    if any(isinstance(value, datetime.datetime) for value in attributes.values()):
        attributes = {
            name: value.isoformat() if isinstance(value, datetime.datetime) else value
            for name, value in attributes.items()
        }
    return context.targeting_key, attributes


def _has_bucket_by(wire: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """Whether the flag's bucket_by attribute has a text form (the core hashes it, not the key)."""
    name = wire.get("bucket_by")
    if not name or name not in attributes:
        return False
    value = attributes[name]
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str | bool | int)


def _metadata(evaluation: evalcore.Evaluation) -> dict[str, int]:
    metadata = {}
    if evaluation.version:
        metadata["version"] = evaluation.version
    if evaluation.rule_index is not None:
        metadata["rule_index"] = evaluation.rule_index
    return metadata
