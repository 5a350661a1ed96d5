"""Admins read the audit trail in Django admin, manage the security policy and unlock
locked-out users (django-axes attempts)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMIN_PERMISSIONS = [
    ("snapshots_ui", "view_operation"),
    ("snapshots_ui", "view_auditevent"),
    ("snapshots_ui", "view_securitypolicy"),
    ("snapshots_ui", "change_securitypolicy"),
    ("axes", "view_accessattempt"),
    ("axes", "delete_accessattempt"),
]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin, _ = Group.objects.get_or_create(name="Admin")
    for app_label, codename in ADMIN_PERMISSIONS:
        admin.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("snapshots_ui", "0003_security_policy"),
        ("axes", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
