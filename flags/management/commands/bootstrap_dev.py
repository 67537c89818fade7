"""`manage.py bootstrap_dev` (run by `make run`): a local admin user and a dev API key, printed.

First run: creates the superuser `admin` with a random password and an admin API key, stores both
in var/dev-credentials.json (mode 0600) and prints them. Later runs print the same ones again.
Refuses to run with debug off: these credentials are for a developer's machine only.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from flags.api_keys import authenticate_bearer
from flags.scopes import default_environment
from flags.services import api_key_create

USERNAME = "admin"
KEY_NAME = "dev admin key (bootstrap_dev)"


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "dev-credentials.json"


class Command(BaseCommand):
    help = "Creates (once) and prints a local admin login and a dev admin API key. Debug only."
    requires_system_checks: tuple[str, ...] = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="where the server will listen, for the printed links (make run passes it)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = str(options["url"]).rstrip("/")
        if not settings.DEBUG:
            raise CommandError(
                "bootstrap_dev is for local development only and refuses to run with "
                "SIDEKICK_DEBUG off. In production create users with createsuperuser and keys "
                "with create_api_key."
            )
        # A fresh database has it from the migrations; this also covers one emptied since.
        default_environment()
        path = credentials_path()
        stored = self._read(path)
        user_model = get_user_model()
        password = stored.get("password")
        user = user_model.objects.filter(username=USERNAME).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=USERNAME, email="", password=password)
        elif not password or not user.check_password(password):
            # Someone chose their own password: keep it, and say how to reset it.
            password = f"(already set; reset with `manage.py changepassword {USERNAME}`)"
        api_key = stored.get("api_key")
        if not api_key or authenticate_bearer(api_key) is None:
            api_key = api_key_create(name=KEY_NAME, role="admin")[1]
        self._write(path, {"username": USERNAME, "password": password, "api_key": api_key})
        self.stdout.write(
            "Sidekick local development credentials (stored in "
            f"{path}; delete the file and the user to start over):\n"
            f"  dashboard:     {base_url}/admin/  user {USERNAME}  password {password}\n"
            f"  admin API key: {api_key}\n"
            f'  try:           curl -H "Authorization: Bearer {api_key}" {base_url}/api/flags'
        )

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    @staticmethod
    def _write(path: Path, credentials: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(credentials, handle, indent=2)
