# Volume.docker_name: a stored, per-row name, so that a volume outlives nothing it should not.
# Numbered 0005 beside the 0003/0004 made in parallel; renumber at merge if needed.

from django.db import migrations, models


def keep_existing_names(apps, schema_editor):
    """Existing volumes keep the name their data lives under (``paas-<app>-<name>``)."""
    Volume = apps.get_model("core", "Volume")
    for volume in Volume.objects.select_related("app"):
        volume.docker_name = f"paas-{volume.app.name}-{volume.name}"
        volume.save(update_fields=["docker_name"])


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0002_runtime_limits_and_volumes"),
    ]

    operations = [
        migrations.AddField(
            model_name="volume",
            name="docker_name",
            field=models.CharField(default="", editable=False, max_length=80),
            preserve_default=False,
        ),
        migrations.RunPython(keep_existing_names, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="volume",
            name="docker_name",
            field=models.CharField(editable=False, max_length=80, unique=True),
        ),
    ]
