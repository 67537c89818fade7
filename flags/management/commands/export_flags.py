"""`manage.py export_flags [--project P [--environment E]] [--output FILE]`.

Without options: the flags of SIDEKICK_DEFAULT_ENVIRONMENT as a JSON list in the wire format (the
v1 file format). `--project P --environment E`: that environment's flags, in the same format.
`--project P` alone: the whole project, `{"project": {key, name}, "environments": [{key, name,
flags: [...]}, ...]}` in environment order, which `import_flags` reads back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flags.exceptions import ResourceNotFound
from flags.scopes import default_environment, environment_by_keys, project_by_key
from flags.selectors import environment_list, flag_list_wire


def project_document(project_key: str) -> dict[str, Any]:
    project = project_by_key(project_key)
    return {
        "project": {"key": project.key, "name": project.name},
        "environments": [
            {
                "key": environment.key,
                "name": environment.name,
                "flags": flag_list_wire(environment_id=environment.pk),
            }
            for environment in environment_list(project_id=project.pk)
        ],
    }


class Command(BaseCommand):
    help = (
        "Writes an environment's flags as a JSON list (the wire format), or a whole project "
        "with --project alone, to stdout or a file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
        parser.add_argument("--project", help="project key (alone: export every environment)")
        parser.add_argument("--environment", help="environment key (needs --project)")

    def handle(self, *args: Any, **options: Any) -> None:
        project, environment = options["project"], options["environment"]
        if environment and not project:
            raise CommandError("--environment needs --project")
        try:
            document: Any
            if project and not environment:
                document = project_document(project)
                count = sum(len(e["flags"]) for e in document["environments"])
            else:
                target = (
                    environment_by_keys(project, environment) if project else default_environment()
                )
                document = flag_list_wire(environment_id=target.pk)
                count = len(document)
        except ResourceNotFound as error:
            raise CommandError(error.detail) from error
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        output: Path | None = options["output"]
        if output is None:
            self.stdout.write(text, ending="")
            return
        output.write_text(text, encoding="utf-8")
        self.stderr.write(f"Exported {count} flag(s) to {output}.")
