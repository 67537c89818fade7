"""Reads of flags, their history and API keys; nothing here writes."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, QuerySet

from flags.models import ApiKey, ChangeRecord, Flag, FlagTombstone
from flags.wire import WireFlag, flag_to_wire, format_timestamp


def _with_rules() -> QuerySet[Flag]:
    return Flag.objects.prefetch_related("rules").order_by("key")


def flag_list_wire() -> list[WireFlag]:
    """Every flag in the wire format, ordered by key, from the database (two queries)."""
    return [flag_to_wire(flag, list(flag.rules.all())) for flag in _with_rules()]


def flag_versions() -> dict[str, int]:
    """Key -> version of every flag; one narrow query for periodic reconciliation."""
    return dict(Flag.objects.values_list("key", "version"))


def deleted_versions() -> dict[str, int]:
    """Key -> the DELETE event version of every deleted key that has not been created again."""
    return dict(FlagTombstone.objects.values_list("key", "version"))


def flag_get_wire(*, key: str) -> WireFlag | None:
    flag = _with_rules().filter(key=key).first()
    return flag_to_wire(flag, list(flag.rules.all())) if flag else None


def flag_list_with_rule_counts() -> QuerySet[Flag]:
    return Flag.objects.annotate(rule_count=Count("rules"))


def flag_history(*, key: str) -> QuerySet[ChangeRecord]:
    """The change records of one key, newest first (deletes and re-creations included)."""
    return ChangeRecord.objects.filter(flag_key=key).order_by("-id")


def change_record_wire(record: ChangeRecord) -> dict[str, Any]:
    return {
        "version": record.version,
        "action": record.action,
        "actor": record.actor,
        "at": format_timestamp(record.at),
        "before": record.before,
        "after": record.after,
    }


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.order_by("-created_at")


def change_watermark() -> int:
    """The id of the newest change record (0: none yet); moves with every committed flag change."""
    return ChangeRecord.objects.aggregate(newest=Max("id"))["newest"] or 0


def changes_after(change_id: int) -> list[ChangeRecord]:
    """The change records newer than `change_id`, oldest first."""
    return list(ChangeRecord.objects.filter(id__gt=change_id).order_by("id"))


def revoked_key_count() -> int:
    """How many keys are revoked; a revocation is never undone, so this only grows."""
    return ApiKey.objects.filter(revoked_at__isnull=False).count()


def revoked_key_ids() -> set[int]:
    return set(ApiKey.objects.filter(revoked_at__isnull=False).values_list("id", flat=True))
