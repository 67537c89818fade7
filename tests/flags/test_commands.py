"""Management commands: keys, export/import round trip (idempotent, all-or-nothing), bootstrap."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from flags import services
from flags.api_keys import authenticate_bearer
from flags.models import ApiKey, ChangeRecord, Flag
from flags.selectors import flag_list_wire
from tests.flags.conftest import stored_state

pytestmark = pytest.mark.django_db(transaction=True)

FLAGS = [
    {
        "key": "dark_mode",
        "is_enabled": True,
        "rollout_percentage": 50,
        "description": "Dark mode",
        "client_side": True,
        "rules": [{"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}],
    },
    {
        "key": "new_checkout",
        "is_enabled": False,
        "rollout_percentage": None,
        "description": None,
        "client_side": False,
        "rules": [],
    },
]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def content(flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in flag.items() if k not in ("version", "updated_at")} for flag in flags]


def test_create_api_key_prints_the_secret_alone_on_the_last_line() -> None:
    output = run("create_api_key", "--role", "server", "--name", "backend")
    secret = output.strip().splitlines()[-1]
    principal = authenticate_bearer(secret)
    assert principal is not None and principal.role == "server" and principal.name == "backend"
    assert ApiKey.objects.get().secret_sha256 not in output


def test_revoke_api_key_by_prefix_or_id() -> None:
    key, raw = services.api_key_create(name="a", role="admin")
    run("revoke_api_key", key.prefix)
    assert authenticate_bearer(raw) is None
    other, other_raw = services.api_key_create(name="b", role="client")
    run("revoke_api_key", str(other.pk))
    assert authenticate_bearer(other_raw) is None
    with pytest.raises(CommandError):
        run("revoke_api_key", "sk_admin_nothere")


def test_export_import_round_trip_is_idempotent(tmp_path: Path, published) -> None:
    source = tmp_path / "flags.json"
    source.write_text(json.dumps(FLAGS))
    assert "2 created" in run("import_flags", str(source))
    assert content(flag_list_wire()) == FLAGS
    records = ChangeRecord.objects.count()
    assert {record.actor for record in ChangeRecord.objects.all()} == {"command:import_flags"}
    assert len(published) == 2

    exported = tmp_path / "exported.json"
    run("export_flags", "--output", str(exported))
    assert content(json.loads(exported.read_text())) == FLAGS
    assert json.loads(run("export_flags")) == flag_list_wire()

    before = stored_state()
    assert "0 created, 0 updated, 2 unchanged" in run("import_flags", str(exported))
    assert stored_state() == before
    assert ChangeRecord.objects.count() == records
    assert len(published) == 2


def test_dry_run_prints_the_diff_and_changes_nothing(tmp_path: Path, published) -> None:
    services.flag_upsert(data=FLAGS[0], actor="t")
    services.flag_upsert(data={"key": "stale"}, actor="t")
    published.clear()
    changed = [{**FLAGS[0], "rollout_percentage": 75}, FLAGS[1]]
    source = tmp_path / "flags.json"
    source.write_text(json.dumps(changed))
    before = stored_state()
    output = run("import_flags", str(source), "--dry-run", "--prune")
    assert "update    dark_mode" in output
    assert "create    new_checkout" in output
    assert "delete    stale" in output
    assert "would be 1 created, 1 updated, 0 unchanged, 1 deleted" in output
    assert stored_state() == before
    assert published == []

    run("import_flags", str(source), "--prune")
    assert content(flag_list_wire()) == changed
    assert {event["type"] for event in published} == {"UPSERT", "DELETE"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            [FLAGS[0], {"key": "ok"}, {"key": "bad", "rollout_percentage": "5"}],
            "[2].rollout_percentage",
        ),
        ([FLAGS[0], FLAGS[0]], "[1].key: duplicate"),
        ({"key": "not a list"}, "expected a JSON list"),
        (
            [{"key": "x", "rules": [{"attribute": "a", "operator": "Like", "values": []}]}],
            "[0].rules[0].operator",
        ),
    ],
)
def test_import_validates_everything_before_writing(
    tmp_path: Path, published, document, message
) -> None:
    services.flag_upsert(data={"key": "existing"}, actor="t")
    published.clear()
    source = tmp_path / "flags.json"
    source.write_text(json.dumps(document))
    before = stored_state()
    with pytest.raises(CommandError) as raised:
        run("import_flags", str(source))
    assert message in str(raised.value)
    assert stored_state() == before
    assert published == []


def test_import_of_unreadable_json_fails_cleanly(tmp_path: Path) -> None:
    source = tmp_path / "flags.json"
    source.write_text("{nope")
    with pytest.raises(CommandError, match="cannot read JSON"):
        run("import_flags", str(source))
    assert not Flag.objects.exists()


def test_bootstrap_dev_is_idempotent_and_debug_only(settings, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    settings.DEBUG = True
    first = run("bootstrap_dev")
    stored = json.loads((tmp_path / "dev-credentials.json").read_text())
    assert oct((tmp_path / "dev-credentials.json").stat().st_mode & 0o777) == "0o600"
    assert stored["password"] in first and stored["api_key"] in first
    principal = authenticate_bearer(stored["api_key"])
    assert principal is not None and principal.role == "admin"

    assert "http://127.0.0.1:8000/admin/" in first
    second = run("bootstrap_dev")
    assert second == first
    elsewhere = run("bootstrap_dev", "--url", "http://0.0.0.0:9000/")
    assert "http://0.0.0.0:9000/admin/" in elsewhere and stored["api_key"] in elsewhere
    assert ApiKey.objects.count() == 1

    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.check_password(stored["password"])

    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run"):
        run("bootstrap_dev")
