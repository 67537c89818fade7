# ruff: noqa: RUF012  (Django's own list style for migrations)
"""The deployment identity: one row with a random id and relay secret, made at the first migrate."""

import secrets

from django.db import migrations, models


def make_identity(apps, schema_editor):
    identity = apps.get_model("flags", "DeploymentIdentity")
    identity.objects.get_or_create(
        id=1,
        defaults={
            "deployment_id": secrets.token_hex(16),
            "relay_secret": secrets.token_urlsafe(48),
        },
    )


class Migration(migrations.Migration):
    dependencies = [("flags", "0002_flag_client_side")]

    operations = [
        migrations.CreateModel(
            name="DeploymentIdentity",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("deployment_id", models.CharField(max_length=64, unique=True)),
                ("relay_secret", models.CharField(max_length=128)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="deployment_identity_single_row"
                    )
                ],
            },
        ),
        migrations.RunPython(make_identity, migrations.RunPython.noop),
    ]
