from django.db import migrations, models


def number_duplicate_names(apps, schema_editor):
    """Before token names become unique per user, name the older duplicates "<name>-2", ..."""
    ApiToken = apps.get_model("core", "ApiToken")
    seen: dict[tuple[int, str], int] = {}
    for token in ApiToken.objects.order_by("created_at", "pk"):
        key = (token.user_id, token.name)
        count = seen.get(key, 0) + 1
        seen[key] = count
        if count > 1:
            candidate = f"{token.name[:90]}-{count}"
            while ApiToken.objects.filter(user_id=token.user_id, name=candidate).exists():
                count += 1
                candidate = f"{token.name[:90]}-{count}"
            token.name = candidate
            token.save(update_fields=["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_runtime_limits_and_volumes"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(blank=True, help_text="empty: never expires", null=True),
        ),
        migrations.RunPython(number_duplicate_names, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.UniqueConstraint(fields=("user", "name"), name="unique_token_name"),
        ),
    ]
