import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from snapshots_ui import accounts
from snapshots_ui.audit import SYSTEM
from snapshots_ui.roles import ADMIN


class Command(BaseCommand):
    help = (
        "Create the first administrator from DASHBOARD_ADMIN_USER / DASHBOARD_ADMIN_PASSWORD if "
        "it does not exist yet. Locally, without a password, a random one is generated and "
        "printed once. In production the password must be given, or DASHBOARD_ADMIN_PASSWORD_FILE "
        "names a file the generated one is written to (readable by this process's user only): "
        "a password printed to stdout would stay in the container logs."
    )

    def handle(self, *args: object, **options: object) -> None:
        username = os.environ.get("DASHBOARD_ADMIN_USER") or "admin"
        password = os.environ.get("DASHBOARD_ADMIN_PASSWORD") or ""
        password_file = os.environ.get("DASHBOARD_ADMIN_PASSWORD_FILE") or ""
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Log in as {username!r} (this user already exists).")
            return
        if not password and settings.PRODUCTION and not password_file:
            raise CommandError(
                "Set DASHBOARD_ADMIN_PASSWORD (or DASHBOARD_ADMIN_PASSWORD_FILE, a file to write "
                "a generated password to) to create the first administrator."
            )
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        accounts.user_saved(actor=SYSTEM, user=user, created=True, was_active=True)
        accounts.role_set(actor=SYSTEM, user=user, role=ADMIN)
        if not generated:
            self.stdout.write(self.style.SUCCESS(f"Created user {username!r}."))
        elif password_file:
            self._write_private(Path(password_file), password)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created user {username!r}; its password is in {password_file} (readable by "
                    "this user only). Change it after logging in, then delete the file."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created user {username!r} with password {password!r} "
                    "(shown only this once; change it under Admin > Users)."
                )
            )

    @staticmethod
    def _write_private(path: Path, password: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(password + "\n")
        path.chmod(0o600)
