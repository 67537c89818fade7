"""`manage.py create_api_key --role admin|server|client --name NAME [--environment P/E]`: prints
the secret once. Server and client keys are bound to one environment (default:
SIDEKICK_DEFAULT_ENVIRONMENT)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flags.exceptions import ResourceNotFound
from flags.scopes import environment_by_path
from flags.services import api_key_create


class Command(BaseCommand):
    help = "Creates a database API key and prints its secret (shown this once, stored as a hash)."
    # The startup guard asks for a key; creating the first one must not need one already.
    requires_system_checks: tuple[str, ...] = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, choices=["admin", "server", "client"])
        parser.add_argument("--name", required=True, help="who or what uses the key")
        parser.add_argument(
            "--environment",
            help="<project>/<environment> a server or client key is bound to "
            "(default: SIDEKICK_DEFAULT_ENVIRONMENT); admin keys reach every one",
        )
        parser.add_argument(
            "--quiet-secret-only",
            action="store_true",
            help="print only the secret (for scripts)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            environment = (
                environment_by_path(options["environment"]) if options["environment"] else None
            )
            key, raw = api_key_create(
                name=options["name"], role=options["role"], environment=environment
            )
        except ResourceNotFound as error:
            raise CommandError(error.detail) from error
        except ValueError as error:
            raise CommandError(str(error)) from error
        if options["quiet_secret_only"]:
            self.stdout.write(raw)
            return
        scope = f"bound to {key.environment}" if key.environment else "every environment"
        self.stdout.write(
            f"Created {key.role} key {key.name!r} (id {key.pk}, prefix {key.prefix}, {scope})."
        )
        self.stdout.write("Secret (shown once; store it now):")
        self.stdout.write(raw)
