"""The Django admin as Sidekick's dashboard; every save goes through flags.services."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.views.decorators.http import require_POST

from flags import selectors, services
from flags.exceptions import FlagNotFound, FlagValidationError, VersionMismatch
from flags.forms import (
    TOP_LEVEL_FIELDS,
    CopyConfirmForm,
    EnvironmentStateForm,
    EnvironmentToggleForm,
    FlagAdminForm,
    FlagListEditForm,
    RuleAdminForm,
    TryUserForm,
)
from flags.models import MAX_RULES, ApiKey, ChangeRecord, Environment, Flag, Project, Rule
from flags.scopes import default_environment
from flags.store import process_flag_store

admin.site.site_header = "Sidekick"
admin.site.site_title = "Sidekick"
admin.site.index_title = "Feature flags"
# The sidebar takes 300 px of every page; at 1280 px the history and key lists need them.
admin.site.enable_nav_sidebar = False

_django_app_list = admin.site.get_app_list


def _flags_first(request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
    # Flags and API keys are what people come for; Django's Users and Groups come after.
    apps = _django_app_list(request, app_label)
    return sorted(apps, key=lambda app: app["app_label"] != "flags")


admin.site.get_app_list = _flags_first  # type: ignore[method-assign]


def iso_time(value: datetime | None) -> str:
    """Dates as ISO 8601 with their offset, in the server's time zone: no guessing."""
    return "-" if value is None else localtime(value).isoformat(timespec="seconds")


def rollout_text(rollout_percentage: int | None) -> str:
    """One way to show a rollout everywhere: empty and 100 have the same effect, so one text."""
    return "100%" if rollout_percentage is None else f"{rollout_percentage}%"


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
        "environment",
        "is_enabled",
        "rollout_display",
        "rule_count",
        "client_side",
        "version",
        "updated",
    )
    list_editable = ("is_enabled",)
    list_filter = ("environment", "is_enabled", "definition__client_side")
    search_fields = ("key", "definition__description")
    ordering = ("key", "environment")
    actions = ("enable_flags", "disable_flags")
    change_form_template = "admin/flags/flag/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Flag]:
        return selectors.flag_list_with_rule_counts()

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "project/<str:project_key>/",
                self.admin_site.admin_view(self.project_view),
                name="flags_flag_project",
            ),
            path(
                "<int:flag_id>/copy/",
                self.admin_site.admin_view(require_POST(self.copy_view)),
                name="flags_flag_copy",
            ),
            path(
                "project/<str:project_key>/toggle/",
                self.admin_site.admin_view(require_POST(self.toggle_view)),
                name="flags_flag_toggle",
            ),
            path(
                "<int:flag_id>/environment/<str:environment_key>/save/",
                self.admin_site.admin_view(require_POST(self.environment_save_view)),
                name="flags_flag_save_environment",
            ),
        ]
        return own + super().get_urls()

    def project_view(self, request: HttpRequest, project_key: str) -> HttpResponse:
        """Every flag of a project, one column per environment: state at a glance and a
        one-click switch that carries the version the page showed."""
        project = get_object_or_404(Project, key=project_key)
        environments = list(project.environments.order_by("position", "id"))
        states = {
            (flag.key, flag.environment_id): flag
            for flag in Flag.objects.filter(environment__project=project)
        }
        rows = [
            {
                "key": key,
                "cells": [
                    {"environment": environment, "flag": states.get((key, environment.id))}
                    for environment in environments
                ],
            }
            for key in sorted({key for key, _ in states})
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Flags of project {project.name}",
            "project": project,
            "projects": Project.objects.order_by("key"),
            "environments": environments,
            "rows": rows,
        }
        return TemplateResponse(request, "admin/flags/flag/project.html", context)

    def toggle_view(self, request: HttpRequest, project_key: str) -> HttpResponse:
        project = get_object_or_404(Project, key=project_key)
        back = reverse("admin:flags_flag_project", args=[project.key])
        form = EnvironmentToggleForm(request.POST)
        if not form.is_valid():
            self.message_user(request, f"Nothing changed: {form.errors.as_text()}", messages.ERROR)
            return HttpResponseRedirect(back)
        data = form.cleaned_data
        environment = get_object_or_404(Environment, project=project, key=data["environment"])
        state = "on" if data["enabled"] else "off"
        if environment.protected and not data["confirmed"]:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Turn {data['flag']} {state} in {environment.name}?",
                "project": project,
                "environment": environment,
                "change": data,
                "state": state,
            }
            return TemplateResponse(request, "admin/flags/flag/confirm_toggle.html", context)
        try:
            services.flag_patch(
                key=data["flag"],
                data={"is_enabled": data["enabled"]},
                actor=_actor(request),
                if_match=data["expected_version"],
                environment=environment,
            )
        except VersionMismatch as error:
            self.message_user(
                request,
                f"Nothing changed: {data['flag']!r} in {environment.key} was changed by someone "
                f"else since this page was opened (version {data['expected_version']} shown, "
                f"{error.current} now). Its current state is below.",
                messages.ERROR,
            )
        except FlagNotFound:
            self.message_user(
                request, f"Nothing changed: no flag {data['flag']!r} here.", messages.ERROR
            )
        else:
            self.message_user(
                request, f"Turned {data['flag']} {state} in {environment.key}.", messages.SUCCESS
            )
        return HttpResponseRedirect(back)

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[ModelForm]:
        return FlagListEditForm

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "projects": Project.objects.order_by("key")}
        try:
            return super().changelist_view(request, context)
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
        return ("key", "version", "updated") if obj else ("version", "updated")

    @admin.display(description="Rollout", ordering="rollout_percentage")
    def rollout_display(self, flag: Flag) -> str:
        return rollout_text(flag.rollout_percentage)

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, flag: Flag) -> str:
        return iso_time(flag.updated_at)

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
            environment = cleaned.get("environment")
            result = services.flag_upsert(
                data=data, actor=_actor(request), if_match=None, environment=environment
            )
            key = result.flag["key"]
        else:
            key = form.instance.key
            environment = form.instance.environment
            data = {name: cleaned[name] for name in form.changed_data if name in TOP_LEVEL_FIELDS}
            if rules is not None:
                data["rules"] = rules
            if data:
                services.flag_patch(
                    key=key,
                    data=data,
                    actor=_actor(request),
                    if_match=cleaned.get("expected_version"),
                    environment=environment,
                )
        for formset in formsets:
            # The admin's change message reads these; the service, not formset.save(), wrote.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        saved = Flag.objects.get(key=key, environment=environment or default_environment())
        form.instance.pk = saved.pk
        form.instance.version = saved.version
        form.instance.updated_at = saved.updated_at

    def delete_model(self, request: HttpRequest, obj: Flag) -> None:
        services.flag_delete(key=obj.key, actor=_actor(request), environment=obj.environment)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        for flag in queryset.select_related("environment"):
            try:
                services.flag_delete(
                    key=flag.key, actor=_actor(request), environment=flag.environment
                )
            except FlagNotFound:
                continue  # deleted with another environment's row of the same definition

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Flag], enabled: bool) -> None:
        changed = 0
        for flag in queryset.select_related("environment"):
            try:
                services.flag_patch(
                    key=flag.key,
                    data={"is_enabled": enabled},
                    actor=_actor(request),
                    environment=flag.environment,
                )
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
            context.update(self._copy_preview_context(request, flag))
            context["recent_changes"] = [
                {"record": record, "at_iso": iso_time(record.at), "diff": diff_table(record)}
                for record in selectors.flag_history(
                    key=flag.key, environment_id=flag.environment_id
                )[:10]
            ]
            context["history_url"] = self._history_url(flag.key)
            context["siblings"] = (
                selectors.flag_list_with_rule_counts()
                .filter(key=flag.key, environment__project_id=flag.environment.project_id)
                .order_by("environment__position", "environment_id")
            )
            context["environment_sections"] = [
                self._environment_section(request, sibling) for sibling in context["siblings"]
            ]
        return super().change_view(request, object_id, form_url, context)

    def _environment_section(self, request: HttpRequest, flag: Flag) -> dict[str, Any]:
        """One environment's section of the flag page: its state as a form that saves with the
        version shown, and its own "try a user" box (prefixed by the environment's key)."""
        wire = selectors.flag_get_wire(key=flag.key, environment_id=flag.environment_id) or {}
        rules = [
            {name: rule[name] for name in ("attribute", "operator", "values")}
            for rule in wire.get("rules", [])
        ]
        form = EnvironmentStateForm(
            prefix=f"state-{flag.environment.key}",
            initial={
                "is_enabled": flag.is_enabled,
                "rollout_percentage": flag.rollout_percentage,
                "rules": json.dumps(rules, ensure_ascii=False, indent=1) if rules else "",
                "expected_version": flag.version,
            },
        )
        section: dict[str, Any] = {"flag": flag, "environment": flag.environment, "form": form}
        prefix = f"try-{flag.environment.key}"
        if request.GET.get("try_env") == flag.environment.key:
            try_form = TryUserForm(request.GET, prefix=prefix)
            if try_form.is_valid():
                section["try_result"] = process_flag_store(flag.environment_id).evaluate(
                    flag.key,
                    try_form.cleaned_data["try_user"],
                    try_form.cleaned_data["try_attributes"],
                )
        else:
            try_form = TryUserForm(prefix=prefix)
        section["try_form"] = try_form
        return section

    def environment_save_view(
        self, request: HttpRequest, flag_id: int, environment_key: str
    ) -> HttpResponse:
        """Saves one environment's section: only the fields that differ from the stored state,
        with the version the page showed (a stale one is refused and nothing changes)."""
        page = get_object_or_404(Flag.objects.select_related("environment__project"), pk=flag_id)
        target = get_object_or_404(
            Flag.objects.select_related("environment"),
            key=page.key,
            environment__project_id=page.environment.project_id,
            environment__key=environment_key,
        )
        back = f"{reverse('admin:flags_flag_change', args=[page.pk])}#env-{environment_key}"
        form = EnvironmentStateForm(request.POST, prefix=f"state-{environment_key}")
        if not form.is_valid():
            problems = "; ".join(
                f"{name}: {' '.join(str(e) for e in errs)}" for name, errs in form.errors.items()
            )
            self.message_user(
                request, f"Nothing saved in {environment_key}: {problems}", messages.ERROR
            )
            return HttpResponseRedirect(back)
        data = form.cleaned_data
        stored = selectors.flag_get_wire(key=target.key, environment_id=target.environment_id)
        wanted = {name: data[name] for name in ("is_enabled", "rollout_percentage", "rules")}
        if stored is not None:
            stored_rules = [
                {name: rule[name] for name in ("attribute", "operator", "values")}
                for rule in stored["rules"]
            ]
            current = {**stored, "rules": stored_rules}
            wanted = {name: value for name, value in wanted.items() if current[name] != value}
        if not wanted and data["expected_version"] == target.version:
            self.message_user(request, f"Nothing to save in {environment_key}.", messages.INFO)
            return HttpResponseRedirect(back)
        try:
            services.flag_patch(
                key=target.key,
                data=wanted,
                actor=_actor(request),
                if_match=data["expected_version"],
                environment=target.environment,
            )
        except VersionMismatch as error:
            self.message_user(
                request,
                f"Nothing saved in {environment_key}: {target.key!r} there was changed by someone "
                f"else since this page was opened (version {data['expected_version']} shown, "
                f"{error.current} now). Its current state is below.",
                messages.ERROR,
            )
        except (FlagValidationError, FlagNotFound) as error:
            detail = getattr(error, "errors", None) or str(error)
            self.message_user(
                request, f"Nothing saved in {environment_key}: {detail}", messages.ERROR
            )
        else:
            self.message_user(
                request, f"Saved {target.key} in {environment_key}.", messages.SUCCESS
            )
        return HttpResponseRedirect(back)

    def _try_user_context(self, request: HttpRequest, flag: Flag) -> dict[str, Any]:
        if "try_user" not in request.GET:
            return {"try_form": TryUserForm()}
        form = TryUserForm(request.GET)
        context: dict[str, Any] = {"try_form": form}
        if form.is_valid():
            context["try_result"] = process_flag_store(flag.environment_id).evaluate(
                flag.key, form.cleaned_data["try_user"], form.cleaned_data["try_attributes"]
            )
        return context

    def _copy_preview_context(self, request: HttpRequest, flag: Flag) -> dict[str, Any]:
        """ "Copy from <env>": the other environments to choose from and, once one is chosen,
        what a copy would change (a dry run through the service: nothing is written)."""
        others = list(
            Environment.objects.filter(project_id=flag.environment.project_id)
            .exclude(pk=flag.environment_id)
            .order_by("position", "id")
        )
        context: dict[str, Any] = {"copy_sources": others}
        chosen = next((env for env in others if env.key == request.GET.get("copy_from")), None)
        if chosen is not None:
            preview = services.flag_copy(
                project=flag.environment.project,
                key=flag.key,
                source=chosen,
                target=flag.environment,
                dry_run=True,
                actor=_actor(request),
            )
            context["copy_source"] = chosen
            context["copy_changes"] = [
                (
                    change.path,
                    _shown(change.path, change.before, True),
                    _shown(change.path, change.after, True),
                )
                for change in preview.changes
            ]
        return context

    def copy_view(self, request: HttpRequest, flag_id: int) -> HttpResponse:
        flag = get_object_or_404(Flag.objects.select_related("environment__project"), pk=flag_id)
        back = reverse("admin:flags_flag_change", args=[flag.pk])
        form = CopyConfirmForm(request.POST)
        source = None
        if form.is_valid():
            source = Environment.objects.filter(
                project_id=flag.environment.project_id, key=form.cleaned_data["source"]
            ).first()
        if source is None or source.pk == flag.environment_id:
            self.message_user(
                request, "Nothing copied: choose another environment.", messages.ERROR
            )
            return HttpResponseRedirect(back)
        try:
            result = services.flag_copy(
                project=flag.environment.project,
                key=flag.key,
                source=source,
                target=flag.environment,
                if_match=form.cleaned_data["expected_version"],
                actor=_actor(request),
            )
        except VersionMismatch:
            self.message_user(
                request,
                f"Nothing copied: {flag.key!r} in {flag.environment.key} was changed by someone "
                "else since the difference was shown. Review it again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(f"{back}?copy_from={source.key}")
        self.message_user(
            request,
            f"Copied {len(result.changes)} field(s) from {source.key} to {flag.environment.key}.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(back)

    def _history_url(self, key: str) -> str:
        return f"{reverse('admin:flags_changerecord_changelist')}?flag_key={key}"

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        flag = Flag.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if flag is None:
            return super().history_view(request, object_id, extra_context)
        return HttpResponseRedirect(self._history_url(flag.key))


def _field_diff(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """(field, before, after) for every top-level field that differs, in a stable order."""
    before = before or {}
    after = after or {}
    rows = []
    for name in sorted(set(before) | set(after)):
        if name in ("version", "updated_at"):
            continue  # they change on every write and are shown as the record's own columns
        old, new = before.get(name), after.get(name)
        if old != new:
            rows.append((name, _shown(name, old, name in before), _shown(name, new, name in after)))
    return rows


def _shown(name: str, value: Any, present: bool) -> str:
    if not present:
        return "(absent)"
    if name == "rollout_percentage":
        return rollout_text(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff_table(record: ChangeRecord) -> str:
    """The record's changed fields, one line each: field: before → after (narrow enough for
    the history list at 1280 px)."""
    rows = _field_diff(record.before, record.after)
    if not rows:
        return format_html("<p>{}</p>", "No field changed.")
    lines = format_html_join(
        "", "<li><strong>{}</strong>: <del>{}</del> → <ins>{}</ins></li>", rows
    )
    return format_html('<ul class="field-diff">{}</ul>', lines)


@admin.register(ChangeRecord)
class ChangeRecordAdmin(admin.ModelAdmin):
    """The audit log, read-only: nobody edits history. Each record reads as a per-field diff."""

    list_display = ("when", "flag_key", "environment", "version", "action", "actor", "changes")

    class Media:
        css: ClassVar[dict[str, tuple[str, ...]]] = {"all": ("flags/dashboard.css",)}

    list_filter = ("action", "environment")
    search_fields = ("flag_key", "actor")
    ordering = ("-id",)
    fields = ("flag_key", "environment", "version", "action", "actor", "when", "changes")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChangeRecord]:
        return super().get_queryset(request).select_related("environment__project")

    @admin.display(description="At (ISO 8601)", ordering="at")
    def when(self, record: ChangeRecord) -> str:
        return iso_time(record.at)

    @admin.display(description="Changes (before → after)")
    def changes(self, record: ChangeRecord) -> str:
        return diff_table(record)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class KeyStatusFilter(admin.SimpleListFilter):
    title = "Status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here (secret shown once, in a message) and revoked, never edited."""

    list_display = ("name", "role", "environment", "prefix", "created", "last_used", "status")
    list_filter = ("role", KeyStatusFilter)
    search_fields = ("name", "prefix")
    actions = ("revoke_keys",)

    change_form_template = "admin/flags/apikey/change_form.html"

    @admin.display(description="Created", ordering="created_at")
    def created(self, key: ApiKey) -> str:
        return iso_time(key.created_at)

    @admin.display(description="Last used", ordering="last_used_at")
    def last_used(self, key: ApiKey) -> str:
        return iso_time(key.last_used_at)

    @admin.display(description="Status")
    def status(self, key: ApiKey) -> str:
        return "active" if key.revoked_at is None else "revoked"

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            # environment: where a server or client key is bound (empty: the default one);
            # admin keys reach every environment.
            return ("name", "role", "environment")
        return (
            "name",
            "role",
            "environment",
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
        )

    def get_readonly_fields(
        self, request: HttpRequest, obj: ApiKey | None = None
    ) -> tuple[str, ...]:
        return () if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ModelForm, change: bool) -> None:
        if change:
            return
        environment = obj.environment if obj.role != "admin" else None
        key, raw = services.api_key_create(
            name=obj.name,
            role=obj.role,  # type: ignore[arg-type]
            environment=environment,
        )
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

    def get_urls(self) -> list[URLPattern]:
        revoke = path(
            "<int:key_id>/revoke/",
            self.admin_site.admin_view(require_POST(self.revoke_view)),
            name="flags_apikey_revoke",
        )
        return [revoke, *super().get_urls()]

    def revoke_view(self, request: HttpRequest, key_id: int) -> HttpResponse:
        key = get_object_or_404(ApiKey, pk=key_id)
        if key.revoked_at is None:
            services.api_key_revoke(api_key=key)
            self.message_user(request, f"Key {key.name!r} revoked.", messages.SUCCESS)
        else:
            self.message_user(request, f"Key {key.name!r} was already revoked.", messages.INFO)
        return HttpResponseRedirect(reverse("admin:flags_apikey_change", args=[key.pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # An existing key is read-only: the page offers Revoke, never Save.
        context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, context)


class EnvironmentInline(admin.TabularInline):
    """A project's environments; an operator marks one protected here. Adding and deleting
    stay with the API (they create or drop the flag state of every flag, and revoke keys)."""

    model = Environment
    fields = ("key", "name", "position", "protected", "revision")
    readonly_fields = ("key", "position", "revision")
    extra = 0
    can_delete = False
    ordering = ("position", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Projects and their environments: names and `protected` are edited here, through the
    service layer; projects and environments are created and deleted through the API."""

    list_display = ("key", "name", "environment_list")
    fields = ("key", "name")
    readonly_fields = ("key",)
    inlines = (EnvironmentInline,)

    @admin.display(description="Environments")
    def environment_list(self, project: Project) -> str:
        return ", ".join(
            f"{environment.key} (protected)" if environment.protected else environment.key
            for environment in project.environments.order_by("position", "id")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Project, form: ModelForm, change: bool) -> None:
        if "name" in form.changed_data:
            services.project_update(project=obj, name=obj.name)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: Any, change: bool
    ) -> None:
        # commit=False: the formset only collects the changes (and lists them for the admin's
        # log); the service writes them.
        formset.save(commit=False)
        for environment, changed_fields in formset.changed_objects:
            changed = set(changed_fields) & {"name", "protected"}
            if changed:
                services.environment_update(
                    environment=environment,
                    name=environment.name if "name" in changed else None,
                    protected=environment.protected if "protected" in changed else None,
                )
