"""`manage.py create_api_key --role admin|server|client --name NAME`: prints the secret once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flags.services import api_key_create


class Command(BaseCommand):
    help = "Creates a database API key and prints its secret (shown this once, stored as a hash)."
    # The startup guard asks for a key; creating the first one must not need one already.
    requires_system_checks: tuple[str, ...] = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, choices=["admin", "server", "client"])
        parser.add_argument("--name", required=True, help="who or what uses the key")
        parser.add_argument(
            "--quiet-secret-only",
            action="store_true",
            help="print only the secret (for scripts)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key, raw = api_key_create(name=options["name"], role=options["role"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        if options["quiet_secret_only"]:
            self.stdout.write(raw)
            return
        self.stdout.write(
            f"Created {key.role} key {key.name!r} (id {key.pk}, prefix {key.prefix})."
        )
        self.stdout.write("Secret (shown once; store it now):")
        self.stdout.write(raw)
