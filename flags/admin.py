"""The Django admin as Sidekick's dashboard; every save goes through flags.services."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from flags import selectors, services
from flags.exceptions import FlagNotFound, FlagValidationError, VersionMismatch
from flags.forms import (
    TOP_LEVEL_FIELDS,
    FlagAdminForm,
    FlagListEditForm,
    RuleAdminForm,
    TryUserForm,
)
from flags.models import MAX_RULES, ApiKey, ChangeRecord, Flag, Rule
from flags.store import process_flag_store

admin.site.site_header = "Sidekick"
admin.site.site_title = "Sidekick"
admin.site.index_title = "Feature flags"


def _actor(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    return f"user:{user.get_username()}" if user is not None else "user:unknown"


class RuleFormSet(BaseInlineFormSet):
    def validate_unique(self) -> None:
        # Positions are renumbered 0..n-1 by the service on save; duplicates only order ties.
        return


class RuleInline(admin.TabularInline):
    model = Rule
    form = RuleAdminForm
    formset = RuleFormSet
    extra = 1
    max_num = MAX_RULES
    validate_max = True
    ordering = ("position",)


def _rules_from_formsets(formsets: list[Any]) -> list[dict[str, Any]] | None:
    """The rules as the inline forms leave them, in order; None when no rule form changed."""
    rule_formsets = [formset for formset in formsets if formset.model is Rule]
    if not rule_formsets or not any(formset.has_changed() for formset in rule_formsets):
        return None
    ordered: list[tuple[float, int, dict[str, Any]]] = []
    for formset in rule_formsets:
        for index, form in enumerate(formset.forms):
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or not data.get("attribute"):
                continue
            position = data.get("position")
            rule = {name: data[name] for name in ("attribute", "operator", "values")}
            ordered.append((float("inf") if position is None else position, index, rule))
    return [rule for _, _, rule in sorted(ordered, key=lambda item: (item[0], item[1]))]


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    form = FlagAdminForm
    inlines = (RuleInline,)
    list_display = (
        "key",
        "is_enabled",
        "rollout_display",
        "rule_count",
        "client_side",
        "version",
        "updated_at",
    )
    list_editable = ("is_enabled",)
    list_filter = ("is_enabled", "client_side")
    search_fields = ("key", "description")
    ordering = ("key",)
    actions = ("enable_flags", "disable_flags")
    change_form_template = "admin/flags/flag/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Flag]:
        return selectors.flag_list_with_rule_counts()

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[ModelForm]:
        return FlagListEditForm

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().changelist_view(request, extra_context)
        except VersionMismatch as error:
            # The list is saved in one transaction: nothing of this save was kept.
            self.message_user(
                request,
                f"Nothing saved: flag {error.key!r} was changed by someone else since this page "
                "was opened (its version is now "
                f"{error.current}). Review the list below and apply your change again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())

    def get_readonly_fields(self, request: HttpRequest, obj: Flag | None = None) -> tuple[str, ...]:
        # A key is a flag's identity in every SDK: it is never renamed.
        return ("key", "version", "updated_at") if obj else ("version", "updated_at")

    @admin.display(description="Rollout", ordering="rollout_percentage")
    def rollout_display(self, flag: Flag) -> str:
        return "100% (all)" if flag.rollout_percentage is None else f"{flag.rollout_percentage}%"

    @admin.display(description="Rules", ordering="rule_count")
    def rule_count(self, flag: Flag) -> int:
        return int(getattr(flag, "rule_count", 0))

    # The service layer does the writing in save_related, once the inline rules are known.
    def save_model(self, request: HttpRequest, obj: Flag, form: ModelForm, change: bool) -> None:
        return

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool
    ) -> None:
        cleaned = form.cleaned_data
        rules = _rules_from_formsets(list(formsets))
        if not change:
            data = {name: cleaned[name] for name in TOP_LEVEL_FIELDS if name in cleaned}
            data["rules"] = rules or []
            result = services.flag_upsert(data=data, actor=_actor(request), if_match=None)
            key = result.flag["key"]
        else:
            key = form.instance.key
            data = {name: cleaned[name] for name in form.changed_data if name in TOP_LEVEL_FIELDS}
            if rules is not None:
                data["rules"] = rules
            if data:
                services.flag_patch(
                    key=key,
                    data=data,
                    actor=_actor(request),
                    if_match=cleaned.get("expected_version"),
                )
        for formset in formsets:
            # The admin's change message reads these; the service, not formset.save(), wrote.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        saved = Flag.objects.get(key=key)
        form.instance.pk = saved.pk
        form.instance.version = saved.version
        form.instance.updated_at = saved.updated_at

    def delete_model(self, request: HttpRequest, obj: Flag) -> None:
        services.flag_delete(key=obj.key, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        for key in queryset.values_list("key", flat=True):
            services.flag_delete(key=key, actor=_actor(request))

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Flag], enabled: bool) -> None:
        changed = 0
        for key in queryset.values_list("key", flat=True):
            try:
                services.flag_patch(key=key, data={"is_enabled": enabled}, actor=_actor(request))
                changed += 1
            except FlagNotFound:
                continue
        state = "enabled" if enabled else "disabled"
        self.message_user(request, f"{changed} flag(s) {state}.", messages.SUCCESS)

    @admin.action(description="Enable selected flags", permissions=["change"])
    def enable_flags(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected flags", permissions=["change"])
    def disable_flags(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        self._set_enabled(request, queryset, False)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except VersionMismatch:
            self.message_user(
                request,
                "Not saved: someone changed this flag since you opened it. Review the current "
                "version below and apply your change again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        except (FlagValidationError, FlagNotFound) as error:
            detail = getattr(error, "errors", None) or str(error)
            self.message_user(request, f"Not saved: {detail}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        flag = Flag.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if flag is not None:
            context.update(self._try_user_context(request, flag))
            context["recent_changes"] = selectors.flag_history(key=flag.key)[:10]
            context["history_url"] = self._history_url(flag.key)
        return super().change_view(request, object_id, form_url, context)

    def _try_user_context(self, request: HttpRequest, flag: Flag) -> dict[str, Any]:
        if "try_user" not in request.GET:
            return {"try_form": TryUserForm()}
        form = TryUserForm(request.GET)
        context: dict[str, Any] = {"try_form": form}
        if form.is_valid():
            context["try_result"] = process_flag_store().evaluate(
                flag.key, form.cleaned_data["try_user"], form.cleaned_data["try_attributes"]
            )
        return context

    def _history_url(self, key: str) -> str:
        return f"{reverse('admin:flags_changerecord_changelist')}?flag_key={key}"

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        flag = Flag.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if flag is None:
            return super().history_view(request, object_id, extra_context)
        return HttpResponseRedirect(self._history_url(flag.key))


def _pretty_json(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(ChangeRecord)
class ChangeRecordAdmin(admin.ModelAdmin):
    """The audit log, read-only: nobody edits history."""

    list_display = ("at", "flag_key", "version", "action", "actor")
    list_filter = ("action",)
    search_fields = ("flag_key", "actor")
    ordering = ("-id",)
    fields = ("flag_key", "version", "action", "actor", "at", "before_json", "after_json")
    readonly_fields = fields

    @admin.display(description="Before")
    def before_json(self, record: ChangeRecord) -> str:
        return _pretty_json(record.before)

    @admin.display(description="After")
    def after_json(self, record: ChangeRecord) -> str:
        return _pretty_json(record.after)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here (secret shown once, in a message) and revoked, never edited."""

    list_display = ("name", "role", "prefix", "created_at", "last_used_at", "status")
    list_filter = ("role", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix")
    actions = ("revoke_keys",)

    @admin.display(description="Status")
    def status(self, key: ApiKey) -> str:
        return "active" if key.revoked_at is None else "revoked"

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "role")
        return ("name", "role", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(
        self, request: HttpRequest, obj: ApiKey | None = None
    ) -> tuple[str, ...]:
        return () if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ModelForm, change: bool) -> None:
        if change:
            return
        key, raw = services.api_key_create(name=obj.name, role=obj.role)  # type: ignore[arg-type]
        obj.pk = key.pk
        obj.prefix = key.prefix
        obj.created_at = key.created_at
        self.message_user(
            request,
            format_html(
                "API key created. Copy the secret now, it is not shown again: <code>{}</code>",
                raw,
            ),
            messages.WARNING,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoke instead: the row keeps who had access, and when.
        return False

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            services.api_key_revoke(api_key=key)
        self.message_user(request, f"{queryset.count()} key(s) revoked.", messages.SUCCESS)
