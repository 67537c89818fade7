"""Reads of projects, environments, flags, their history and API keys; nothing here writes."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, QuerySet

from flags.models import ApiKey, ChangeRecord, Environment, Flag, FlagTombstone, Project
from flags.scopes import default_environment
from flags.wire import WireFlag, flag_to_wire, format_timestamp


def _environment(environment_id: int | None) -> int:
    """The environment named by id; None: SIDEKICK_DEFAULT_ENVIRONMENT (as the v1 paths)."""
    return default_environment().pk if environment_id is None else environment_id


def _with_rules(environment_id: int) -> QuerySet[Flag]:
    return (
        Flag.objects.filter(environment_id=environment_id)
        .select_related("definition")
        .prefetch_related("rules")
        .order_by("key")
    )


def flag_list_wire(*, environment_id: int | None = None) -> list[WireFlag]:
    """Every flag of an environment in the wire format, ordered by key (two queries)."""
    return [
        flag_to_wire(flag, list(flag.rules.all()))
        for flag in _with_rules(_environment(environment_id))
    ]


def environment_revision(environment_id: int) -> int:
    """The environment's revision (0 when it no longer exists)."""
    revision = (
        Environment.objects.filter(pk=environment_id).values_list("revision", flat=True).first()
    )
    return int(revision or 0)


def project_id_of(environment_id: int) -> int | None:
    return (
        Environment.objects.filter(pk=environment_id).values_list("project_id", flat=True).first()
    )


def flag_versions(*, environment_id: int | None = None) -> dict[str, int]:
    """Key -> version of every flag of an environment; one narrow query for reconciliation."""
    return dict(
        Flag.objects.filter(environment_id=_environment(environment_id)).values_list(
            "key", "version"
        )
    )


def deleted_versions(*, environment_id: int | None = None) -> dict[str, int]:
    """Key -> the DELETE event version of every deleted key not created again, in one
    environment."""
    return dict(
        FlagTombstone.objects.filter(environment_id=_environment(environment_id)).values_list(
            "key", "version"
        )
    )


def flag_get_wire(*, key: str, environment_id: int | None = None) -> WireFlag | None:
    flag = _with_rules(_environment(environment_id)).filter(key=key).first()
    return flag_to_wire(flag, list(flag.rules.all())) if flag else None


def flag_list_with_rule_counts() -> QuerySet[Flag]:
    return Flag.objects.select_related("definition", "environment__project").annotate(
        rule_count=Count("rules")
    )


def flag_history(*, key: str, environment_id: int | None = None) -> QuerySet[ChangeRecord]:
    """The change records of one key in one environment, newest first (deletes and
    re-creations included)."""
    return ChangeRecord.objects.filter(
        environment_id=_environment(environment_id), flag_key=key
    ).order_by("-id")


def change_record_wire(record: ChangeRecord) -> dict[str, Any]:
    return {
        "version": record.version,
        "action": record.action,
        "actor": record.actor,
        "at": format_timestamp(record.at),
        "before": record.before,
        "after": record.after,
    }


def project_list() -> QuerySet[Project]:
    return Project.objects.order_by("key")


def environment_list(*, project_id: int) -> QuerySet[Environment]:
    return Environment.objects.filter(project_id=project_id).order_by("position", "id")


def project_wire(project: Project) -> dict[str, Any]:
    return {
        "key": project.key,
        "name": project.name,
        "environments": [
            environment_wire(environment, project_key=project.key)
            for environment in environment_list(project_id=project.pk)
        ],
    }


def environment_wire(environment: Environment, *, project_key: str) -> dict[str, Any]:
    return {
        "key": environment.key,
        "name": environment.name,
        "project": project_key,
        "position": environment.position,
        "protected": environment.protected,
        "revision": environment.revision,
    }


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("environment__project").order_by("-created_at")


def change_watermark() -> int:
    """The id of the newest change record (0: none yet); moves with every committed flag change."""
    return ChangeRecord.objects.aggregate(newest=Max("id"))["newest"] or 0


def changes_after(change_id: int) -> list[ChangeRecord]:
    """The change records newer than `change_id`, oldest first (each names its environment)."""
    return list(ChangeRecord.objects.filter(id__gt=change_id).order_by("id"))


def revoked_key_count() -> int:
    """How many keys are revoked; a revocation is never undone, so this only grows."""
    return ApiKey.objects.filter(revoked_at__isnull=False).count()


def revoked_key_ids() -> set[int]:
    return set(ApiKey.objects.filter(revoked_at__isnull=False).values_list("id", flat=True))
