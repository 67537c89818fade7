# ruff: noqa: RUF012  (Django's own list style for migrations)
"""Environments the dashboard asks a confirmation for; existing `production` ones are marked."""

from django.db import migrations, models


def protect_production(apps, schema_editor):
    Environment = apps.get_model("flags", "Environment")
    Environment.objects.filter(key="production").update(protected=True)


class Migration(migrations.Migration):
    dependencies = [("flags", "0004_projects_environments")]

    operations = [
        migrations.AddField(
            model_name="environment",
            name="protected",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(protect_production, migrations.RunPython.noop),
    ]
