# ruff: noqa: RUF012  (Django reads a migration's operations from plain class-level lists)
"""Projects and environments: every v1 flag, tombstone, change record and key moves into
`default/production`, with the same versions, answers and key secrets.

The steps: create the new tables; add the environment links as nullable columns; fill them
(`upgrade_from_v1`); then make them required and swap the v1 unique keys for per-environment
ones. `description` and `client_side` move from the flag to its definition (0002 made every v1
flag client-side: before it, browsers saw every flag); the `development` environment gets every
flag's state, off, at version 1.
"""

import django.db.models.deletion
from django.db import migrations, models

import flags.models

DEFAULT_PROJECT = "default"
ENVIRONMENTS = (("development", "Development"), ("production", "Production"))
UPGRADED_ENVIRONMENT = "production"


def upgrade_from_v1(apps, schema_editor):
    Project = apps.get_model("flags", "Project")
    Environment = apps.get_model("flags", "Environment")
    FlagDefinition = apps.get_model("flags", "FlagDefinition")
    Flag = apps.get_model("flags", "Flag")
    FlagTombstone = apps.get_model("flags", "FlagTombstone")
    ChangeRecord = apps.get_model("flags", "ChangeRecord")
    ApiKey = apps.get_model("flags", "ApiKey")

    project = Project.objects.create(key=DEFAULT_PROJECT, name="Default")
    environments = {
        key: Environment.objects.create(project=project, key=key, name=name, position=position)
        for position, (key, name) in enumerate(ENVIRONMENTS)
    }
    production = environments[UPGRADED_ENVIRONMENT]
    for flag in Flag.objects.order_by("id"):
        definition = FlagDefinition.objects.create(
            project=project,
            key=flag.key,
            description=flag.description,
            client_side=flag.client_side,
        )
        Flag.objects.filter(pk=flag.pk).update(environment=production, definition=definition)
        for environment in environments.values():
            if environment.pk != production.pk:
                Flag.objects.create(
                    environment=environment,
                    definition=definition,
                    key=flag.key,
                    updated_at=flag.updated_at,
                )
    FlagTombstone.objects.update(environment=production)
    # Each v1 change was a committed change visible in production: its revision counts them.
    revision = 0
    for record_id in ChangeRecord.objects.order_by("id").values_list("id", flat=True):
        revision += 1
        ChangeRecord.objects.filter(pk=record_id).update(environment=production, revision=revision)
    Environment.objects.filter(pk=production.pk).update(revision=revision)
    ApiKey.objects.exclude(role="admin").update(environment=production)


class Migration(migrations.Migration):
    dependencies = [("flags", "0003_deployment_identity")]

    operations = [
        migrations.CreateModel(
            name="Project",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=100, unique=True)),
                ("name", models.CharField(max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ("key",),
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("key__regex", "\\A[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\\Z")),
                        name="project_key_charset",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="Environment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=100)),
                ("name", models.CharField(max_length=200)),
                ("position", models.PositiveIntegerField(default=0)),
                ("revision", models.PositiveBigIntegerField(default=0)),
                ("epoch", models.CharField(default=flags.models.new_epoch, max_length=32)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="environments",
                        to="flags.project",
                    ),
                ),
            ],
            options={
                "ordering": ("project", "position", "id"),
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "key"), name="environment_unique_key"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("key__regex", "\\A[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\\Z")),
                        name="environment_key_charset",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("revision__gte", 0)),
                        name="environment_revision_not_negative",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="FlagDefinition",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=100)),
                ("description", models.TextField(blank=True, null=True)),
                (
                    "type",
                    models.CharField(
                        choices=[("boolean", "Boolean")], default="boolean", max_length=16
                    ),
                ),
                ("bucket_by", models.CharField(blank=True, max_length=100, null=True)),
                (
                    "client_side",
                    models.BooleanField(
                        db_default=False,
                        default=False,
                        help_text=(
                            "Client keys (browsers, mobile apps) see this flag, and anyone holding "
                            "such a key can read its rules. Keep private targeting on flags that "
                            "are not client-side."
                        ),
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="definitions",
                        to="flags.project",
                    ),
                ),
            ],
            options={
                "ordering": ("project", "key"),
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "key"), name="definition_unique_key"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("key__regex", "\\A[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\\Z")),
                        name="definition_key_charset",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("description__isnull", True),
                            ("description__length__lte", 1000),
                            _connector="OR",
                        ),
                        name="definition_description_max_length",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("type__in", ["boolean"])),
                        name="definition_type_known",
                    ),
                ],
            },
        ),
        # The links, nullable until upgrade_from_v1 has filled them.
        migrations.AddField(
            model_name="flag",
            name="environment",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="flags",
                to="flags.environment",
            ),
        ),
        migrations.AddField(
            model_name="flag",
            name="definition",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="states",
                to="flags.flagdefinition",
            ),
        ),
        migrations.AddField(
            model_name="flagtombstone",
            name="environment",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tombstones",
                to="flags.environment",
            ),
        ),
        migrations.AddField(
            model_name="changerecord",
            name="environment",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="changes",
                to="flags.environment",
            ),
        ),
        migrations.AddField(
            model_name="changerecord",
            name="revision",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="apikey",
            name="environment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="api_keys",
                to="flags.environment",
            ),
        ),
        # v1's global unique keys go before the development states are added beside them.
        migrations.AlterField(
            model_name="flag", name="key", field=models.CharField(max_length=100)
        ),
        migrations.AlterField(
            model_name="flagtombstone", name="key", field=models.CharField(max_length=100)
        ),
        migrations.RunPython(upgrade_from_v1, migrations.RunPython.noop, elidable=False),
        migrations.RemoveConstraint(model_name="flag", name="flag_description_max_length"),
        migrations.RemoveField(model_name="flag", name="description"),
        migrations.RemoveField(model_name="flag", name="client_side"),
        migrations.AlterField(
            model_name="flag",
            name="environment",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="flags",
                to="flags.environment",
            ),
        ),
        migrations.AlterField(
            model_name="flag",
            name="definition",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="states",
                to="flags.flagdefinition",
            ),
        ),
        migrations.AlterField(
            model_name="flagtombstone",
            name="environment",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tombstones",
                to="flags.environment",
            ),
        ),
        migrations.AlterField(
            model_name="changerecord",
            name="environment",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="changes",
                to="flags.environment",
            ),
        ),
        migrations.AlterModelOptions(name="flag", options={"ordering": ("environment", "key")}),
        migrations.AddConstraint(
            model_name="flag",
            constraint=models.UniqueConstraint(
                fields=("environment", "key"), name="flag_unique_key"
            ),
        ),
        migrations.AddConstraint(
            model_name="flag",
            constraint=models.UniqueConstraint(
                fields=("environment", "definition"), name="flag_one_state_per_environment"
            ),
        ),
        migrations.AddConstraint(
            model_name="flagtombstone",
            constraint=models.UniqueConstraint(
                fields=("environment", "key"), name="tombstone_unique_key"
            ),
        ),
        migrations.AddIndex(
            model_name="changerecord",
            index=models.Index(
                fields=["environment", "flag_key", "-id"], name="change_env_flag_newest"
            ),
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("environment__isnull", True), ("role", "admin")),
                    models.Q(
                        models.Q(("role", "admin"), _negated=True), ("environment__isnull", False)
                    ),
                    ("revoked_at__isnull", False),
                    _connector="OR",
                ),
                name="api_key_environment_by_role",
            ),
        ),
    ]
