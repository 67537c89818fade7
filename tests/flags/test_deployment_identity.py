"""The deployment identity: one row made by the migration, shared, overridable by settings."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from flags.deployment import deployment_identity, reset_deployment_identity
from flags.models import DeploymentIdentity

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_identity() -> Iterator[None]:
    reset_deployment_identity()
    yield
    reset_deployment_identity()


def test_the_migration_made_one_random_identity_and_every_reader_gets_it():
    row = DeploymentIdentity.objects.get()
    assert len(row.deployment_id) == 32 and len(row.relay_secret) >= 48
    identity = deployment_identity()
    assert identity.deployment_id == row.deployment_id
    assert identity.relay_secret == row.relay_secret.encode()
    assert deployment_identity() is identity  # read once per process


def test_an_emptied_table_gets_a_new_row():
    DeploymentIdentity.objects.all().delete()
    identity = deployment_identity()
    assert DeploymentIdentity.objects.get().deployment_id == identity.deployment_id


def test_settings_override_the_row(settings):
    settings.SIDEKICK_DEPLOYMENT_ID = "pinned"
    settings.SIDEKICK_RELAY_SECRET = "s" * 40
    identity = deployment_identity()
    assert (identity.deployment_id, identity.relay_secret) == ("pinned", b"s" * 40)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SIDEKICK_DEPLOYMENT_ID", "has space", "SIDEKICK_DEPLOYMENT_ID must be"),
        ("SIDEKICK_RELAY_SECRET", "short", "SIDEKICK_RELAY_SECRET must be at least 32"),
    ],
)
def test_a_bad_override_stops_the_server_with_a_clear_error(variable, value, message):
    done = subprocess.run(
        [sys.executable, "-c", "import sidekick.settings"],
        env={"PATH": "/usr/bin:/bin", variable: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert message in done.stderr
