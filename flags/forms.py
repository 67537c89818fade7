"""Admin forms: the same validation as the API (flags.validation), shaped for HTML forms."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.safestring import SafeString

from flags.exceptions import FlagValidationError
from flags.models import DESCRIPTION_MAX_LENGTH, MAX_VALUES_PER_RULE, Environment, Flag, Rule
from flags.validation import validate_flag_patch

TOP_LEVEL_FIELDS = ("key", "is_enabled", "rollout_percentage", "description", "client_side")


def _apply_errors(form: forms.BaseForm, errors: dict[str, list[str]], prefix: str = "") -> None:
    for path, messages in errors.items():
        name = path.removeprefix(prefix)
        name = name.split("[", 1)[0]
        field = name if name in form.fields else None
        for message in messages:
            form.add_error(field, f"{path}: {message}" if field is None else message)


STALE_PAGE = "This page is out of date: reload it before saving."


class FlagAdminForm(forms.ModelForm):
    # The version the page was opened at: saving over someone else's newer change is refused
    # (like If-Match) instead of silently replacing their rules. Required when editing: a write
    # that does not say what it was based on cannot be checked.
    expected_version = forms.IntegerField(
        required=False, widget=forms.HiddenInput, error_messages={"required": STALE_PAGE}
    )
    # The definition's description, shared by every environment of the project.
    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shared by every environment of the project.",
    )
    client_side = forms.BooleanField(
        required=False,
        help_text=(
            "Client keys (browsers, mobile apps) see this flag, and anyone holding such a key "
            "can read its rules. Shared by every environment of the project."
        ),
    )
    # Where a new flag is edited first (it is created, off, in the project's other ones).
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.select_related("project"), required=False
    )

    class Meta:
        model = Flag
        fields = ("key", "is_enabled", "rollout_percentage")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["expected_version"] = self.instance.version
            self.fields["expected_version"].required = True
            self.initial["description"] = self.instance.definition.description
            self.initial["client_side"] = self.instance.definition.client_side
            self.initial["environment"] = self.instance.environment_id
            self.fields["environment"].disabled = True
        self.fields["rollout_percentage"].help_text = (
            "0-100: the share of users who get the flag when it is on and no rule matched. "
            "Empty means 100% (everyone)."
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The admin sends "" for an empty description; the wire format's absence is null.
        if cleaned.get("description") == "":
            cleaned["description"] = None
        candidate = {name: cleaned[name] for name in TOP_LEVEL_FIELDS if name in cleaned}
        try:
            validate_flag_patch(candidate)
        except FlagValidationError as error:
            _apply_errors(self, error.errors)
        return cleaned


class _WithVersionBoundField(forms.BoundField):
    """Renders the checkbox together with its row's hidden expected_version.

    The changelist renders only the list_editable columns (and the primary key) of each row's
    form, so the version rides in the editable cell it protects.
    """

    def __str__(self) -> SafeString:
        version = self.form["expected_version"]
        return version.errors.__str__() + super().__str__() + version.__str__()


class _VersionedBooleanField(forms.BooleanField):
    def get_bound_field(self, form: forms.BaseForm, field_name: str) -> forms.BoundField:
        return _WithVersionBoundField(form, self, field_name)


class FlagListEditForm(forms.ModelForm):
    """One row of the flag list's editable `is_enabled` column, checked against its version."""

    is_enabled = _VersionedBooleanField(required=False)
    expected_version = forms.IntegerField(
        widget=forms.HiddenInput, error_messages={"required": STALE_PAGE}
    )

    class Meta:
        model = Flag
        fields = ("is_enabled",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["expected_version"] = self.instance.version


def split_values(text: str) -> list[str]:
    """One value per line; line endings (\\r\\n from browsers) and blank lines do not count."""
    return [line.removesuffix("\r") for line in text.split("\n") if line.strip("\r") != ""]


class RuleAdminForm(forms.ModelForm):
    values = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        required=False,
        strip=False,
        help_text=f"One value per line (at most {MAX_VALUES_PER_RULE}); blank lines are ignored.",
    )

    class Meta:
        model = Rule
        fields = ("position", "attribute", "operator", "values")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["position"].required = False
        self.fields["position"].help_text = "Order (lowest first); empty = after the others."
        if self.instance.pk:
            self.initial["values"] = "\n".join(self.instance.values)

    def clean_values(self) -> list[str]:
        return split_values(self.cleaned_data.get("values") or "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("DELETE"):
            rule = {name: cleaned.get(name) for name in ("attribute", "operator", "values")}
            try:
                validate_flag_patch({"rules": [rule]})
            except FlagValidationError as error:
                _apply_errors(self, error.errors, prefix="rules[0].")
        return cleaned

    def _post_clean(self) -> None:
        # The position is assigned by the service when the flag is saved; skip the model's
        # uniqueness check of (flag, position) on half-edited rows.
        self._validate_unique = False
        super()._post_clean()  # type: ignore[misc]


class TryUserForm(forms.Form):
    """The "try a user" box: what the evaluation core answers for this user and attributes."""

    try_user = forms.CharField(label="User key", required=True, strip=False)
    try_attributes = forms.CharField(
        label="Attributes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text='A JSON object ({"email": "a@acme.com"}) or key=value lines.',
    )

    def clean_try_attributes(self) -> dict[str, Any]:
        return parse_attributes(self.cleaned_data.get("try_attributes") or "")


def parse_attributes(text: str) -> dict[str, Any]:
    """A JSON object, or `name=value` lines (values kept as strings)."""
    if text.strip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"Not valid JSON: {error}") from error
        if not isinstance(value, dict):
            raise forms.ValidationError("Expected a JSON object.")
        return value
    attributes: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, separator, value = line.partition("=")
        if not separator or not name.strip():
            raise forms.ValidationError(f"Line {number}: expected name=value.")
        attributes[name.strip()] = value
    return attributes


class EnvironmentToggleForm(forms.Form):
    """One click on the project page: a flag turned on or off in one environment, refused when
    the flag changed since the page showed `expected_version`."""

    flag = forms.CharField(max_length=100)
    environment = forms.CharField(max_length=100)
    enabled = forms.TypedChoiceField(
        choices=(("true", "on"), ("false", "off")), coerce=lambda value: value == "true"
    )
    expected_version = forms.IntegerField(min_value=1)
    # Set by the confirmation page that a protected environment asks for first.
    confirmed = forms.BooleanField(required=False)


class CopyConfirmForm(forms.Form):
    """The confirmation of a copy whose difference was shown for the target at
    `expected_version`: refused if the target changed since."""

    source = forms.CharField(max_length=100)
    expected_version = forms.IntegerField(min_value=1)


class EnvironmentStateForm(forms.Form):
    """One environment's section of the flag page: its state, saved with the version it showed.

    The rules are the flag's JSON rule list (`[{"attribute", "operator", "values"}]`), replaced
    whole; the service validates them exactly as the REST API does.
    """

    is_enabled = forms.BooleanField(label="Enabled", required=False)
    rollout_percentage = forms.IntegerField(
        label="Rollout %",
        required=False,
        min_value=0,
        max_value=100,
        help_text="Empty means 100%.",
    )
    rules = forms.CharField(
        label="Rules (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text='[{"attribute": "plan", "operator": "Equals", "values": ["pro"]}]; '
        "the first rule that matches wins.",
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def clean_rules(self) -> Any:
        text = (self.cleaned_data.get("rules") or "").strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"Not valid JSON: {error}") from error
        if not isinstance(value, list):
            raise forms.ValidationError("Expected a JSON list of rules.")
        return value
