"""`manage.py import_flags FILE [--project P [--environment E]] [--dry-run] [--prune]`: flags as
files, for review and GitOps.

A JSON list of flags (the v1 file format, and what `export_flags` writes for one environment)
goes into `--project P --environment E`, by default SIDEKICK_DEFAULT_ENVIRONMENT. A project
document (`export_flags --project P`) goes into its project (or `--project P`), creating the
project and any missing environment.

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
from flags.exceptions import FlagValidationError, ResourceNotFound
from flags.models import Environment, Project
from flags.scopes import default_environment, environment_by_keys
from flags.selectors import flag_list_wire
from flags.validation import validate_flag

ACTOR = "command:import_flags"
CONTENT_FIELDS = ("is_enabled", "rollout_percentage", "description", "rules", "client_side")


def _content(flag: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """What the import would set; a field the incoming flag leaves out keeps its current value."""
    return {name: flag[name] for name in CONTENT_FIELDS if name in incoming}


def _unchanged(current: dict[str, Any], incoming: dict[str, Any]) -> bool:
    return _content(current, incoming) == _content(incoming, incoming)


def read_document(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CommandError(f"{path}: cannot read JSON: {error}") from error


def load_flags(path: Path, document: Any = None) -> list[dict[str, Any]]:
    """The file's flags, validated; raises CommandError listing every problem with its path."""
    if document is None:
        document = read_document(path)
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
        parser.add_argument("--project", help="project key (default: the default environment's)")
        parser.add_argument("--environment", help="environment key, for a list of flags")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        document = read_document(path)
        if isinstance(document, dict) and "environments" in document:
            self._import_project(path, document, options)
            return
        if options["environment"] and not options["project"]:
            raise CommandError("--environment needs --project")
        try:
            environment = (
                environment_by_keys(options["project"], options["environment"] or "production")
                if options["project"]
                else default_environment()
            )
        except ResourceNotFound as error:
            raise CommandError(error.detail) from error
        incoming = load_flags(path, document)
        with transaction.atomic():
            self._import_list(incoming, environment, options)

    def _import_project(self, path: Path, document: dict[str, Any], options: Any) -> None:
        """Every environment of a project document, all in one transaction."""
        project_key = options["project"] or (document.get("project") or {}).get("key")
        environments = document.get("environments")
        if not isinstance(project_key, str) or not isinstance(environments, list):
            raise CommandError(
                f"{path}: expected a JSON list of flags, or a project document from "
                "export_flags --project"
            )
        loaded = []
        for index, item in enumerate(environments):
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise CommandError(f"{path}: environments[{index}] needs a key")
            loaded.append((item, load_flags(path, item.get("flags"))))
        with transaction.atomic():
            project = Project.objects.filter(key=project_key).first()
            if project is None and not options["dry_run"]:
                name = (document.get("project") or {}).get("name") or project_key
                project = services.project_create(key=project_key, name=str(name))
            for item, incoming in loaded:
                environment = (
                    Environment.objects.filter(project=project, key=item["key"]).first()
                    if project is not None
                    else None
                )
                if environment is None and not options["dry_run"]:
                    assert project is not None
                    environment = services.environment_create(
                        project=project, key=item["key"], name=str(item.get("name") or item["key"])
                    )
                self.stdout.write(f"{project_key}/{item['key']}:")
                self._import_list(incoming, environment, options)

    def _import_list(
        self, incoming: list[dict[str, Any]], environment: Environment | None, options: Any
    ) -> None:
        """Creates, replaces (and with --prune deletes) flags of one environment (None: one a
        dry run would create)."""
        current = (
            {flag["key"]: flag for flag in flag_list_wire(environment_id=environment.pk)}
            if environment is not None
            else {}
        )
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
        for flag in [*created, *updated]:
            services.flag_upsert(data=flag, actor=ACTOR, environment=environment)
        for key in deleted:
            services.flag_delete(key=key, actor=ACTOR, environment=environment)
        self.stdout.write(f"Imported: {summary}.")
