"""Security: login throttling, production settings, headers, the token, hostile provider data."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from base64 import b32decode
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from snapshots_ui.accounts import account_unlock
from snapshots_ui.audit import Actor
from snapshots_ui.models import Operation, OperationKind, SecurityPolicy
from snapshots_ui.statuses import OperationState
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
WEB = 12345
SECRET_TOKEN = "tok-3f9a1c-never-show-me"


# --- Login throttling -----------------------------------------------------------------------


def log_in(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"username": username, "password": password})


def test_repeated_failures_lock_the_user_out_with_a_clear_page(operator, settings) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "omar", "wrong").status_code == 200  # the form, with its error

    locked = log_in(client, "omar", "wrong")
    right_password_too = log_in(client, "omar", PASSWORD)

    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    assert right_password_too.status_code == 429
    assert "_auth_user_id" not in client.session


def test_an_admin_can_unlock_a_locked_out_user(operator, admin_user, settings) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "omar", "wrong")

    account_unlock(actor=Actor(user=admin_user, ip=None), username="omar")  # the admin action
    response = log_in(client, "omar", PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(operator.pk)


def test_lock_out_is_per_user_and_address(operator, viewer, settings) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(attacker, "omar", "wrong")

    colleague = Client(REMOTE_ADDR="198.51.100.10")
    assert log_in(colleague, "omar", PASSWORD).status_code == 302
    assert log_in(attacker, "vera", PASSWORD).status_code == 302


# --- Production settings --------------------------------------------------------------------


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "VPS_API_TOKEN"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_reports_nothing_under_production_settings() -> None:
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_ENV="production", SECRET_KEY="x" * 20 + "-Kq8#2vLw9!pZr4@Tn6$Yb1&Hm5%Jc3^",
        VPS_API_TOKEN="token", ALLOWED_HOSTS="snapshots.example.com",
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "VPS_API_TOKEN"])
def test_production_refuses_to_start_without_its_secrets(missing: str) -> None:
    env = {"DJANGO_ENV": "production", "SECRET_KEY": "k" * 50, "VPS_API_TOKEN": "t"}
    del env[missing]

    result = run_manage("check", **env)

    assert result.returncode != 0
    assert f"Production settings need {missing}" in result.stderr


def test_security_headers_and_a_strict_content_security_policy(client, viewer) -> None:
    response = client.get("/login/")

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


# --- The provider token ---------------------------------------------------------------------


@pytest.fixture
def secret_token(seeded_simulator, settings) -> str:
    settings.VPS_API_TOKEN = SECRET_TOKEN
    settings.VPS_SIM_TOKEN = SECRET_TOKEN
    return SECRET_TOKEN


def test_token_appears_on_no_page_export_or_log(secret_token, client, admin_user, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client.force_login(admin_user)
    operation = Operation.objects.create(
        kind=OperationKind.CREATE, server_id=WEB, server_name="web-server-01",
        snapshot_name="x", state=OperationState.FAILED, finished_at=timezone.now(),
    )  # fmt: skip
    pages = [
        "/", f"/servers/{WEB}/", "/snapshots/801/restore/", "/snapshots/801/delete/",
        "/activity/", "/activity.csv", f"/operations/{operation.pk}/", "/health/",
        "/health/provider/", "/admin/", "/login/",
    ]  # fmt: skip
    bodies = []
    for path in pages:
        response = client.get(path)
        bodies.append(b"".join(response) if response.streaming else response.content)
    controls.add_fault(status=503)
    client.get("/health/provider/")
    controls.clear_faults()
    controls.set_token("rotated")
    from snapshots_ui.fleet_cache import fleet_invalidate

    fleet_invalidate()
    bodies.append(client.get("/").content)

    assert all(SECRET_TOKEN.encode() not in body for body in bodies)
    assert SECRET_TOKEN not in caplog.text
    assert "rejected the dashboard's API token" in bodies[-1].decode()


# --- Hostile data from the provider ---------------------------------------------------------

HOSTILE_NAME = "<script>alert('name')</script>"
HOSTILE_DESCRIPTION = '"><img src=x onerror=alert(1)>'
FORMULA = "=cmd|' /C calc'!A0"


@pytest.fixture
def hostile_snapshot(seeded_simulator) -> SimSnapshot:
    """A snapshot whose name and description the dashboard does not control."""
    return SimSnapshot.objects.create(
        server=SimServer.objects.get(pk=WEB), name=HOSTILE_NAME, description=HOSTILE_DESCRIPTION,
        status="completed", size_mb=10, created_at=timezone.now(),
    )  # fmt: skip


def test_hostile_names_and_descriptions_are_rendered_inert(
    hostile_snapshot, client, admin_user
) -> None:
    client.force_login(admin_user)

    for path in (
        f"/servers/{WEB}/",
        f"/snapshots/{hostile_snapshot.pk}/restore/",
        f"/snapshots/{hostile_snapshot.pk}/delete/",
    ):
        body = client.get(path).content.decode()
        assert "<script>alert(" not in body, path
        assert "<img src=x" not in body, path
        assert "&lt;script&gt;alert(" in body, path


def test_finished_operation_toast_carries_the_name_as_data_not_markup(client, viewer, db) -> None:
    client.force_login(viewer)
    operation = Operation.objects.create(
        kind=OperationKind.CREATE, server_id=WEB, server_name="web-server-01",
        snapshot_name=HOSTILE_NAME, state=OperationState.SUCCEEDED, finished_at=timezone.now(),
    )  # fmt: skip

    response = client.get(f"/operations/{operation.pk}/")

    assert response.status_code == 286
    assert "<script>" not in response.content.decode()
    event = json.loads(response["HX-Trigger"])["operation-finished"]
    # Data in JSON; that the toast shows it as text is seen in Chromium
    # (tests/e2e/test_filters_and_toasts.py).
    assert HOSTILE_NAME in event["message"]


def test_csv_export_neutralises_spreadsheet_formulas(client, viewer, db) -> None:
    client.force_login(viewer)
    Operation.objects.create(
        kind=OperationKind.CREATE, server_id=WEB, server_name="+SUM(A1)", snapshot_name=FORMULA,
        requested_by_name="@evil", provider_message="-2+3",
    )  # fmt: skip

    body = b"".join(client.get("/activity.csv")).decode()

    assert f"'{FORMULA}" in body.replace('""', '"')
    assert "'+SUM(A1)" in body
    assert "'@evil" in body
    assert "'-2+3" in body


# --- Two-factor login -----------------------------------------------------------------------


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"


def log_in_through_the_page(client: Client, username: str):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"username": username, "password": PASSWORD}, follow=True)


def test_a_user_with_an_authenticator_must_enter_a_code(operator, settings) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a person retrying waits longer than this test
    device = TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    client = Client()

    landed = log_in_through_the_page(client, "omar")
    assert landed.redirect_chain[-1][0].startswith("/login/verify/")
    assert client.get("/").status_code == 302  # nothing else until the code is given

    wrong = client.post("/login/verify/", {"code": "000000", "next": "/"})
    assert wrong.status_code == 400
    assert "not valid" in wrong.content.decode()

    right = client.post("/login/verify/", {"code": current_code(device), "next": "/"})
    assert right.status_code == 302
    assert client.get("/").status_code == 200


def test_policy_sends_operators_to_set_up_an_authenticator_but_not_viewers(
    operator, viewer
) -> None:
    SecurityPolicy.objects.update_or_create(pk=1, defaults={"require_two_factor": True})

    operator_client, viewer_client = Client(), Client()
    log_in_through_the_page(operator_client, "omar")
    log_in_through_the_page(viewer_client, "vera")

    blocked = operator_client.get("/")
    assert blocked.status_code == 302
    assert blocked["Location"].startswith("/account/two-factor/")
    assert viewer_client.get("/").status_code == 200


def test_setting_up_an_authenticator(operator, settings) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a person retrying waits longer than this test
    client = Client()
    log_in_through_the_page(client, "omar")

    page = client.get("/account/two-factor/")
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in page.content.decode()
    secret = re.search(r'<p class="mono secret">([A-Z2-7]+)</p>', page.content.decode())[1]
    assert not TOTPDevice.objects.exists()  # looking at the page writes nothing
    assert secret in client.get("/account/two-factor/").content.decode()  # same key on reload
    typed_into_the_app = TOTPDevice(key=b32decode(secret).hex())

    wrong = client.post("/account/two-factor/", {"code": "000000", "next": "/"})
    assert wrong.status_code == 400
    done = client.post(
        "/account/two-factor/", {"code": current_code(typed_into_the_app), "next": "/"}
    )

    assert done.status_code == 302
    device = TOTPDevice.objects.get(user=operator)
    assert device.confirmed
    assert client.get("/").status_code == 200  # this session is verified already


def test_an_htmx_poll_before_the_second_factor_gets_a_client_redirect(operator) -> None:
    TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    client = Client()
    log_in_through_the_page(client, "omar")

    response = client.get("/activity/", HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"].startswith("/login/verify/")
