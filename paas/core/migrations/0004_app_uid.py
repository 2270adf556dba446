# App.uid: a random id per app, never reused, that names the app's Docker volumes.
# Numbered 0005 beside the 0003/0004 made in parallel; renumber at merge if needed.

from django.db import migrations, models

import paas.core.models


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0003_token_expiry"),
    ]

    operations = [
        # Existing apps get "": their volumes keep the names their data lives under.
        migrations.AddField(
            model_name="app",
            name="uid",
            field=models.CharField(blank=True, default="", editable=False, max_length=12),
        ),
        migrations.AlterField(
            model_name="app",
            name="uid",
            field=models.CharField(blank=True, default=paas.core.models.new_app_uid,
                                   editable=False, max_length=12),
        ),
    ]
