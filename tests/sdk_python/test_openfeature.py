"""SidekickProvider through the real OpenFeature API, over offline stores: every flag type, every
reason and every error code, and a hook seeing each stage of an evaluation."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails, Reason
from openfeature.hook import Hook, HookContext, HookHints
from openfeature.provider import ProviderStatus
from sidekick_sdk import SidekickClient, SidekickUnreachableError
from sidekick_sdk.openfeature import SidekickProvider

import evalcore
from tests.e2e.server import free_port

pytestmark = pytest.mark.timeout(60)

BETA = {"key": "beta", "is_enabled": True, "rollout_percentage": 100, "version": 4}
OFF = {"key": "off", "is_enabled": False, "rollout_percentage": 100, "version": 1}
HALF = {"key": "half", "is_enabled": True, "rollout_percentage": 50, "version": 2}
STAFF = {
    "key": "staff",
    "is_enabled": True,
    "rollout_percentage": 0,
    "rules": [{"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}],
    "version": 7,
}
CHECKOUT = {
    "key": "checkout",
    "type": "string",
    "is_enabled": True,
    "variants": [{"key": "control", "value": "Buy"}, {"key": "bold", "value": "Buy now"}],
    "off_variant": "control",
    "rules": [
        {
            "conditions": [{"attribute": "plan", "operator": "Equals", "values": ["pro"]}],
            "serve": {"variant": "bold"},
        },
        {
            "conditions": [
                {"attribute": "tags", "operator": "Equals", "values": ["x"], "negate": True}
            ],
            "serve": {"variant": "bold"},
        },
    ],
    "fallthrough": {"variant": "control"},
    "version": 3,
}
LIMIT = {  # an integral number, written as a float on the wire
    "key": "limit",
    "type": "number",
    "is_enabled": True,
    "variants": [{"key": "small", "value": 10.0}, {"key": "large", "value": 100}],
    "off_variant": "small",
    "fallthrough": {"variant": "small"},
    "version": 1,
}
RATIO = {  # a split across two non-integral numbers
    "key": "ratio",
    "type": "number",
    "is_enabled": True,
    "variants": [{"key": "low", "value": 0.25}, {"key": "high", "value": 0.75}],
    "off_variant": "low",
    "fallthrough": {
        "split": [{"variant": "low", "weight": 500}, {"variant": "high", "weight": 500}]
    },
    "bucket_by": "team",
    "version": 5,
}
THEME = {
    "key": "theme",
    "type": "json",
    "is_enabled": True,
    "variants": [{"key": "dark", "value": {"bg": "#000", "sizes": [1, 2]}}],
    "off_variant": "dark",
    "fallthrough": {"variant": "dark"},
}
LABEL = {  # a json flag whose value is a string: not an object
    "key": "label",
    "type": "json",
    "is_enabled": True,
    "variants": [{"key": "plain", "value": "hello"}],
    "off_variant": "plain",
    "fallthrough": {"variant": "plain"},
    "version": 1,
}
FLAGS = [BETA, OFF, HALF, STAFF, CHECKOUT, LIMIT, RATIO, THEME, LABEL]


def store_with(flags: list[dict[str, Any]]) -> evalcore.FlagStore:
    store = evalcore.FlagStore()
    for flag in flags:
        store.upsert(flag)
    return store


@pytest.fixture
def client() -> Iterator[OpenFeatureClient]:
    domain = f"offline-{uuid.uuid4().hex}"
    api.set_provider(SidekickProvider(store_with(FLAGS)), domain)
    yield api.get_client(domain)
    api.clear_providers()


def user(key: str | None = "user-1", **attributes: Any) -> EvaluationContext:
    return EvaluationContext(targeting_key=key, attributes=attributes)


def assert_error(details: FlagEvaluationDetails[Any], code: ErrorCode, default: Any) -> None:
    assert details.error_code == code, details
    assert details.reason == Reason.ERROR
    assert details.value == default
    assert details.error_message


def test_an_offline_store_is_ready_at_once(client):
    assert client.get_provider_status() == ProviderStatus.READY
    assert client.get_metadata().domain is not None
    assert client.provider.get_metadata().name == "sidekick"


def test_boolean_flags_resolve_with_reasons_variants_and_metadata(client):
    on = client.get_boolean_details("beta", False, user())
    assert (on.value, on.variant, on.reason) == (True, "on", Reason.STATIC)
    assert on.flag_metadata == {"version": 4}
    assert on.error_code is None

    off = client.get_boolean_details("off", True, user())
    assert (off.value, off.variant, off.reason) == (False, "off", Reason.DISABLED)

    staff = client.get_boolean_details("staff", False, user(email="ann@acme.com"))
    assert (staff.value, staff.reason) == (True, Reason.TARGETING_MATCH)
    assert staff.flag_metadata == {"version": 7, "rule_index": 0}
    assert client.get_boolean_value("staff", True, user(email="bo@example.org")) is False

    store = store_with([HALF])
    answers = {}
    for index in range(200):
        details = client.get_boolean_details("half", False, user(f"u{index}"))
        assert details.reason == Reason.SPLIT
        assert details.value == store.is_enabled("half", f"u{index}")
        answers[details.value] = details.variant
    assert answers == {True: "on", False: "off"}  # both sides of the rollout were seen


def test_string_flags_resolve_rules_and_nested_attributes(client):
    pro = client.get_string_details("checkout", "?", user(plan="pro", tags=["x"]))
    assert (pro.value, pro.variant, pro.reason) == ("Buy now", "bold", Reason.TARGETING_MATCH)
    assert pro.flag_metadata == {"version": 3, "rule_index": 0}
    # A list is a present attribute that no operator compares: the negated rule holds on it.
    listed = client.get_string_details("checkout", "?", user(tags=["x"]))
    assert (listed.value, listed.flag_metadata["rule_index"]) == ("Buy now", 1)
    # Without the attribute nothing holds, even negated: the fallthrough serves.
    plain = client.get_string_details("checkout", "?", user())
    assert (plain.value, plain.variant, plain.reason) == ("Buy", "control", Reason.STATIC)
    assert "rule_index" not in plain.flag_metadata
    # Datetimes become ISO 8601 text, which a text operator can compare.
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert client.get_string_value("checkout", "?", user(plan=when)) == "Buy"


def test_number_flags_resolve_as_integers_and_floats(client):
    integral = client.get_integer_details("limit", 0, user())
    assert integral.value == 10 and type(integral.value) is int
    assert integral.variant == "small" and integral.error_code is None
    as_float = client.get_float_details("limit", 0.0, user())
    assert as_float.value == 10.0 and type(as_float.value) is float

    ratio = client.get_float_details("ratio", 0.0, user("u", team="red"))
    assert ratio.value in (0.25, 0.75) and ratio.reason == Reason.SPLIT
    assert ratio.flag_metadata == {"version": 5}
    store = store_with([RATIO])
    assert ratio.value == store.evaluate("ratio", "u", {"team": "red"}).value
    # A non-integral number under an integer call is a type mismatch, never a truncation.
    assert_error(
        client.get_integer_details("ratio", 7, user(team="red")), ErrorCode.TYPE_MISMATCH, 7
    )


def test_object_flags_resolve_objects_and_refuse_scalars(client):
    theme = client.get_object_details("theme", {}, user())
    assert theme.value == {"bg": "#000", "sizes": [1, 2]}
    assert (theme.variant, theme.reason, theme.flag_metadata) == ("dark", Reason.STATIC, {})
    assert_error(
        client.get_object_details("label", {"d": 1}, user()), ErrorCode.TYPE_MISMATCH, {"d": 1}
    )


def test_flag_not_found_and_type_mismatch_return_the_default(client):
    assert_error(client.get_boolean_details("nope", True, user()), ErrorCode.FLAG_NOT_FOUND, True)
    assert_error(client.get_string_details("nope", "d", user()), ErrorCode.FLAG_NOT_FOUND, "d")
    assert_error(
        client.get_boolean_details("checkout", True, user()), ErrorCode.TYPE_MISMATCH, True
    )
    assert_error(client.get_string_details("beta", "d", user()), ErrorCode.TYPE_MISMATCH, "d")
    assert_error(client.get_integer_details("theme", 1, user()), ErrorCode.TYPE_MISMATCH, 1)
    assert_error(client.get_float_details("checkout", 1.5, user()), ErrorCode.TYPE_MISMATCH, 1.5)
    assert_error(client.get_object_details("limit", [], user()), ErrorCode.TYPE_MISMATCH, [])


def test_a_missing_targeting_key_is_an_error_only_where_a_bucket_is_needed(client):
    for context in (user(None), None):
        assert_error(
            client.get_boolean_details("half", True, context),
            ErrorCode.TARGETING_KEY_MISSING,
            True,
        )
    # The bucket_by attribute stands in for the key; without either the split needs one.
    assert client.get_float_details("ratio", 0.0, user(None, team="red")).error_code is None
    assert_error(
        client.get_float_details("ratio", 9.5, user(None)), ErrorCode.TARGETING_KEY_MISSING, 9.5
    )
    # No bucket, no key needed: 100%, off, rules, fixed variants.
    assert client.get_boolean_value("beta", False, user(None)) is True
    assert client.get_boolean_details("off", True, user(None)).reason == Reason.DISABLED
    assert client.get_string_value("checkout", "?", user(None, plan="pro")) == "Buy now"


def test_a_client_without_flags_yet_answers_provider_not_ready():
    # A client whose server does not exist: initialize fails (ERROR), evaluations still reach
    # the provider, which answers PROVIDER_NOT_READY until flags arrive.
    sidekick = SidekickClient(f"http://127.0.0.1:{free_port()}", "k", backoff_initial=0.05)
    provider = SidekickProvider(sidekick, init_timeout=0.5)
    domain = f"unready-{uuid.uuid4().hex}"
    try:
        with pytest.raises(SidekickUnreachableError):
            api.set_provider_and_wait(provider, domain)
        client = api.get_client(domain)
        assert client.get_provider_status() == ProviderStatus.ERROR
        assert_error(
            client.get_boolean_details("beta", True, user()), ErrorCode.PROVIDER_NOT_READY, True
        )
        assert_error(
            client.get_object_details("theme", [], user()), ErrorCode.PROVIDER_NOT_READY, []
        )
    finally:
        api.clear_providers()
        sidekick.close()


def test_a_bootstrapped_client_is_ready_before_any_connection():
    sidekick = SidekickClient(f"http://127.0.0.1:{free_port()}", "k", bootstrap=[BETA, LIMIT])
    domain = f"bootstrap-{uuid.uuid4().hex}"
    try:
        api.set_provider_and_wait(SidekickProvider(sidekick), domain)
        client = api.get_client(domain)
        assert client.get_boolean_value("beta", False, user()) is True
        assert client.get_integer_value("limit", 0, user()) == 10
    finally:
        api.clear_providers()
        sidekick.close()


class RecordingHook(Hook):
    """Records each stage the OpenFeature API runs around an evaluation, with its details."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def before(self, hook_context: HookContext, hints: HookHints) -> EvaluationContext | None:
        self.calls.append(("before", hook_context.flag_key))
        return EvaluationContext(attributes={"plan": "pro"})  # merged into the evaluation

    def after(
        self, hook_context: HookContext, details: FlagEvaluationDetails[Any], hints: HookHints
    ) -> None:
        self.calls.append(("after", (details.value, details.variant, details.reason)))

    def error(self, hook_context: HookContext, exception: Exception, hints: HookHints) -> None:
        self.calls.append(("error", type(exception).__name__))

    def finally_after(
        self, hook_context: HookContext, details: FlagEvaluationDetails[Any], hints: HookHints
    ) -> None:
        self.calls.append(("finally", (details.value, details.error_code)))


def test_a_hook_runs_around_a_successful_evaluation(client):
    hook = RecordingHook()
    client.add_hooks([hook])
    # The hook's context adds plan=pro: the rule matches although the caller did not say so.
    assert client.get_string_value("checkout", "Buy?", user()) == "Buy now"
    assert hook.calls == [
        ("before", "checkout"),
        ("after", ("Buy now", "bold", Reason.TARGETING_MATCH)),
        ("finally", ("Buy now", None)),
    ]


def test_a_hook_sees_the_error_of_a_failed_evaluation(client):
    hook = RecordingHook()
    client.add_hooks([hook])
    assert client.get_string_value("beta", "fallback", user()) == "fallback"
    assert hook.calls == [
        ("before", "beta"),
        ("error", "TypeMismatchError"),
        ("finally", ("fallback", ErrorCode.TYPE_MISMATCH)),
    ]
