"""Admins lift lock-outs with the audited "Unlock" action rather than by deleting django-axes'
records, and read the log of failed log-ins."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def update(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin, _ = Group.objects.get_or_create(name="Admin")
    admin.permissions.remove(
        *Permission.objects.filter(content_type__app_label="axes", codename="delete_accessattempt")
    )
    admin.permissions.add(
        *Permission.objects.filter(content_type__app_label="axes", codename="view_accessfailurelog")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("snapshots_ui", "0005_account_events"),
        ("axes", "0008_accessfailurelog"),
    ]

    operations = [migrations.RunPython(update, migrations.RunPython.noop)]
