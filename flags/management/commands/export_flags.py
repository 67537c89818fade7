"""`manage.py export_flags [--output FILE]`: every flag as a JSON list in the wire format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from flags.selectors import flag_list_wire


class Command(BaseCommand):
    help = "Writes every flag as a JSON list (the wire format) to stdout or a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        flags = flag_list_wire()
        text = json.dumps(flags, indent=2, ensure_ascii=False) + "\n"
        output: Path | None = options["output"]
        if output is None:
            self.stdout.write(text, ending="")
            return
        output.write_text(text, encoding="utf-8")
        self.stderr.write(f"Exported {len(flags)} flag(s) to {output}.")
