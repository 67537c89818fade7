"""Shapes of the REST API's JSON for the OpenAPI schema.

Input is validated by `flags.validation` (shared with the admin and import_flags, and stricter
than DRF's coercing fields); these serializers describe exactly that contract so /api/schema
matches what the API accepts and returns.
"""

from __future__ import annotations

from rest_framework import serializers

from flags.models import (
    ATTRIBUTE_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    FLAG_KEY_MAX_LENGTH,
    MAX_RULES,
    MAX_VALUES_PER_RULE,
    ChangeAction,
    Operator,
)

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class RuleSerializer(serializers.Serializer):
    attribute = serializers.CharField(min_length=1, max_length=ATTRIBUTE_MAX_LENGTH)
    operator = serializers.ChoiceField(choices=Operator.choices)
    values = serializers.ListField(
        child=serializers.CharField(allow_blank=True), max_length=MAX_VALUES_PER_RULE
    )


class FlagSerializer(serializers.Serializer):
    """A flag as the API returns it (the wire format)."""

    key = serializers.RegexField(KEY_PATTERN, max_length=FLAG_KEY_MAX_LENGTH)
    is_enabled = serializers.BooleanField()
    rollout_percentage = serializers.IntegerField(min_value=0, max_value=100, allow_null=True)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, allow_null=True)
    client_side = serializers.BooleanField(
        help_text="Whether client keys (browser, mobile) see the flag; its rules become public."
    )
    rules = RuleSerializer(many=True, max_length=MAX_RULES)  # type: ignore[call-arg]
    version = serializers.IntegerField(read_only=True, min_value=1)
    updated_at = serializers.DateTimeField(read_only=True)


class FlagCreateSerializer(serializers.Serializer):
    """POST /api/flags: only `key` is required; unknown fields are rejected."""

    key = serializers.RegexField(KEY_PATTERN, max_length=FLAG_KEY_MAX_LENGTH)
    is_enabled = serializers.BooleanField(required=False, default=False)
    rollout_percentage = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, required=False, default=None
    )
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, allow_null=True, required=False, default=None
    )
    client_side = serializers.BooleanField(
        required=False,
        help_text=(
            "Whether client keys see the flag (its rules become public). Absent: false for a "
            "new flag; a replaced flag keeps its current value."
        ),
    )
    rules = RuleSerializer(many=True, max_length=MAX_RULES, required=False)  # type: ignore[call-arg]
    version = serializers.IntegerField(
        required=False, help_text="Ignored: versions are the server's."
    )
    updated_at = serializers.CharField(required=False, help_text="Ignored.")


class FlagPatchSerializer(FlagCreateSerializer):
    """PATCH /api/flags/<key>: any subset; `rules` replaces the whole list."""

    key = serializers.RegexField(
        KEY_PATTERN,
        max_length=FLAG_KEY_MAX_LENGTH,
        required=False,
        help_text="Optional; must equal the key in the URL.",
    )


class EvaluateRequestSerializer(serializers.Serializer):
    flag = serializers.CharField()
    user_key = serializers.CharField(allow_blank=True)
    attributes = serializers.DictField(
        required=False,
        allow_null=True,
        help_text=(
            "Strings; booleans become true/false, integral numbers their decimal text; "
            "other values never match."
        ),
    )


class EvaluateResponseSerializer(serializers.Serializer):
    flag = serializers.CharField()
    enabled = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=["FLAG_NOT_FOUND", "OFF", "RULE_MATCH", "ROLLOUT"])
    rule_index = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)


class ChangeRecordSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    action = serializers.ChoiceField(choices=ChangeAction.choices)
    actor = serializers.CharField()
    at = serializers.DateTimeField()
    before = FlagSerializer(allow_null=True)
    after = FlagSerializer(allow_null=True)


class EnvironmentSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField(required=False)
    project = serializers.CharField(read_only=True)
    position = serializers.IntegerField(min_value=0, required=False)
    protected = serializers.BooleanField(
        required=False,
        help_text="The dashboard asks for a confirmation before a one-click change here.",
    )
    revision = serializers.IntegerField(read_only=True)


class ProjectSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    environments = EnvironmentSerializer(many=True)


class CopyChangeSerializer(serializers.Serializer):
    path = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class FlagCopySerializer(serializers.Serializer):
    """One flag's copy: every changed field path with its value before and after."""

    key = serializers.CharField()
    changes = CopyChangeSerializer(many=True)
    version = serializers.IntegerField()


class FlagCopyResultSerializer(FlagCopySerializer):
    dry_run = serializers.BooleanField()


class EnvironmentCopyResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    flags = FlagCopySerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    """The one error shape of every 4xx/5xx."""

    detail = serializers.CharField()
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField())
    )
