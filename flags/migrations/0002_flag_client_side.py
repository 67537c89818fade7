# ruff: noqa: RUF012  (Django reads a migration's operations from plain class-level lists)
"""Adds `Flag.client_side`: existing flags become client-side, new flags are not.

Before this field every key saw every flag, browsers included; marking the existing flags
client-side keeps those browsers working after the upgrade. Flags created afterwards start
private (false), and a client key sees them only once someone marks them.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("flags", "0001_initial")]

    operations = [
        # The one-off default fills the existing rows with true...
        migrations.AddField(
            model_name="flag",
            name="client_side",
            field=models.BooleanField(default=True),
            preserve_default=False,
        ),
        # ...then new rows default to false, in Django and in the database.
        migrations.AlterField(
            model_name="flag",
            name="client_side",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text=(
                    "Client keys (browsers, mobile apps) see this flag, and anyone holding such a "
                    "key can read its rules. Keep private targeting on flags that are not "
                    "client-side."
                ),
            ),
        ),
    ]
