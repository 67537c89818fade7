"""`manage.py revoke_api_key ID_OR_PREFIX`: a revoked key stops working at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flags.models import ApiKey
from flags.services import api_key_revoke


class Command(BaseCommand):
    help = "Revokes a database API key, named by its id or its visible prefix."
    requires_system_checks: tuple[str, ...] = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="the key's id or visible prefix (sk_server_AbCd1234)")

    def handle(self, *args: Any, **options: Any) -> None:
        ident: str = options["key"]
        lookup = {"pk": int(ident)} if ident.isdigit() else {"prefix": ident}
        key = ApiKey.objects.filter(**lookup).first()
        if key is None:
            raise CommandError(f"No API key with {'id' if ident.isdigit() else 'prefix'} {ident}.")
        api_key_revoke(api_key=key)
        self.stdout.write(f"Revoked {key.role} key {key.name!r} ({key.prefix}).")
