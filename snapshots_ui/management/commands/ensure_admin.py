import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from snapshots_ui.roles import ADMIN


class Command(BaseCommand):
    help = (
        "Create the admin user from DASHBOARD_ADMIN_USER / DASHBOARD_ADMIN_PASSWORD if it does "
        "not exist yet. Without a password a random one is generated and printed once."
    )

    def handle(self, *args: object, **options: object) -> None:
        username = os.environ.get("DASHBOARD_ADMIN_USER") or "admin"
        password = os.environ.get("DASHBOARD_ADMIN_PASSWORD") or ""
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None:
            self.stdout.write(f"Log in as {username!r} (this user already exists).")
            return
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        user.groups.add(Group.objects.get(name=ADMIN))
        if generated:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created user {username!r} with password {password!r} "
                    "(shown only this once; change it under Admin > Users)."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Created user {username!r}."))
