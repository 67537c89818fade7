"""`manage.py import_flags FILE [--dry-run] [--prune]`: flags as files, for review and GitOps.

Everything is validated before anything is written, and all writes share one transaction.
Idempotent: a flag whose content already matches is left alone (its version does not move).
A flag without `client_side` is created private and, when it exists, keeps its current value
(so a file exported before the field existed changes nothing about who sees its flags).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from flags import services
from flags.exceptions import FlagValidationError
from flags.selectors import flag_list_wire
from flags.validation import validate_flag

ACTOR = "command:import_flags"
CONTENT_FIELDS = ("is_enabled", "rollout_percentage", "description", "rules", "client_side")


def _content(flag: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """What the import would set; a field the incoming flag leaves out keeps its current value."""
    return {name: flag[name] for name in CONTENT_FIELDS if name in incoming}


def _unchanged(current: dict[str, Any], incoming: dict[str, Any]) -> bool:
    return _content(current, incoming) == _content(incoming, incoming)


def load_flags(path: Path) -> list[dict[str, Any]]:
    """The file's flags, validated; raises CommandError listing every problem with its path."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CommandError(f"{path}: cannot read JSON: {error}") from error
    if not isinstance(document, list):
        raise CommandError(f"{path}: expected a JSON list of flags")
    flags: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(document):
        try:
            flag = validate_flag(item)
        except FlagValidationError as error:
            problems.extend(
                f"[{index}].{path}: {message}"
                for path, messages in (error.errors or {"": [error.detail]}).items()
                for message in messages
            )
            continue
        if flag["key"] in seen:
            problems.append(f"[{index}].key: duplicate key {flag['key']!r}")
        seen.add(flag["key"])
        flags.append(flag)
    if problems:
        raise CommandError("nothing imported; invalid flags:\n" + "\n".join(problems))
    return flags


class Command(BaseCommand):
    help = "Creates or replaces flags from a JSON list (wire format); --dry-run prints the diff."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")
        parser.add_argument("--prune", action="store_true", help="delete flags not in the file")

    def handle(self, *args: Any, **options: Any) -> None:
        incoming = load_flags(options["file"])
        current = {flag["key"]: flag for flag in flag_list_wire()}
        created = [flag for flag in incoming if flag["key"] not in current]
        updated = [
            flag
            for flag in incoming
            if flag["key"] in current and not _unchanged(current[flag["key"]], flag)
        ]
        unchanged = [
            flag
            for flag in incoming
            if flag["key"] in current and _unchanged(current[flag["key"]], flag)
        ]
        incoming_keys = {flag["key"] for flag in incoming}
        deleted = (
            sorted(key for key in current if key not in incoming_keys) if options["prune"] else []
        )

        for label, keys in (
            ("create", [flag["key"] for flag in created]),
            ("update", [flag["key"] for flag in updated]),
            ("unchanged", [flag["key"] for flag in unchanged]),
            ("delete", deleted),
        ):
            for key in keys:
                self.stdout.write(f"{label:<9} {key}")
        summary = (
            f"{len(created)} created, {len(updated)} updated, {len(unchanged)} unchanged, "
            f"{len(deleted)} deleted"
        )
        if options["dry_run"]:
            self.stdout.write(f"Dry run: would be {summary}.")
            return
        with transaction.atomic():
            for flag in [*created, *updated]:
                services.flag_upsert(data=flag, actor=ACTOR)
            for key in deleted:
                services.flag_delete(key=key, actor=ACTOR)
        self.stdout.write(f"Imported: {summary}.")
