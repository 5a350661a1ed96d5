"""Attacks on accounts, tried over HTTP against the live server, each refused.

Each test plays what an attacker (or an over-curious Admin) would send: a stolen password
against two-factor, forged admin forms, a botnet guessing, a session left open.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from snapshots_ui.accounts import SESSION_ACTIVITY_KEY, SESSION_STARTED_KEY
from snapshots_ui.models import AuditEvent
from snapshots_ui.roles import ADMIN, OPERATOR, role_of
from tests.factories import PASSWORD, UserFactory
from tests.http_client import WebClient

pytestmark = pytest.mark.django_db(transaction=True)


def code_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"


@pytest.fixture
def web(live_server, seeded_simulator) -> WebClient:  # type: ignore[no-untyped-def]
    return WebClient(live_server.url)


@pytest.fixture
def phone(operator, settings) -> TOTPDevice:  # type: ignore[no-untyped-def]
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the tests give several codes in a row
    return TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)


def events(action: str, subject: str = "") -> int:
    found = AuditEvent.objects.filter(action=action)
    return found.filter(subject_name=subject).count() if subject else found.count()


# --- 1. A password alone cannot turn two-factor off ---------------------------------------------


def test_a_stolen_password_cannot_reach_the_two_factor_page(web, phone) -> None:
    assert web.log_in("omar", PASSWORD).status_code == 302

    page = web.get("/account/two-factor/")
    disable = web.post("/account/two-factor/", {"action": "disable", "code": code_of(phone)})

    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login/verify/")
    assert disable.status_code == 302
    assert disable.headers["Location"].startswith("/login/verify/")
    assert TOTPDevice.objects.filter(pk=phone.pk).exists()
    assert web.get("/account/password/").headers["Location"].startswith("/login/verify/")
    assert web.get("/activity/").headers["Location"].startswith("/login/verify/")


def test_a_verified_session_still_needs_a_fresh_code_to_turn_it_off(web, phone) -> None:
    web.log_in("omar", PASSWORD)
    web.post("/login/verify/", {"code": code_of(phone), "next": "/"})

    without_code = web.post("/account/two-factor/", {"action": "disable"})
    wrong_code = web.post("/account/two-factor/", {"action": "disable", "code": "000000"})
    assert without_code.status_code == 400
    assert wrong_code.status_code == 400
    assert TOTPDevice.objects.filter(pk=phone.pk).exists()

    phone.refresh_from_db()
    phone.last_t = -1  # a new 30-second window: the code is fresh
    phone.save()
    done = web.post("/account/two-factor/", {"action": "disable", "code": code_of(phone)})

    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user__username="omar").exists()
    assert events("account.two_factor.disabled", "omar") == 1


def test_the_session_key_changes_when_the_code_is_given(web, phone) -> None:
    web.log_in("omar", PASSWORD)
    after_password = web.session_key

    web.post("/login/verify/", {"code": code_of(phone), "next": "/"})

    assert web.session_key not in (None, after_password)
    assert not Session.objects.filter(session_key=after_password).exists()
    assert web.get("/").status_code == 200


def test_an_admin_resets_a_lost_phone_and_the_user_is_told(web, phone, admin_user) -> None:
    web.log_in("ada", PASSWORD)
    reset = web.post(
        "/admin/auth/user/",
        {"action": "reset_two_factor", "_selected_action": [phone.user_id], "index": "0"},
    )
    assert reset.status_code == 302
    assert not TOTPDevice.objects.filter(user=phone.user).exists()
    assert events("account.two_factor.reset", "omar") == 1

    owner = WebClient(web.base_url)
    logged_in = owner.log_in("omar", PASSWORD)
    landed = owner.get("/")

    assert logged_in.status_code == 302, logged_in.text[:3000]
    assert landed.status_code == 200, landed.headers
    assert "removed your authenticator app" in landed.text
    assert "ada" in landed.text
    assert "removed your authenticator app" not in owner.get("/").text  # told once


# --- 2. An Admin cannot make anyone a superuser -------------------------------------------


def change_form(user: User, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "username": user.username, "first_name": "", "last_name": "", "email": "",
        "is_active": "on", "role": role_of(user) or "",
        "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }  # fmt: skip
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def test_a_forged_admin_form_cannot_grant_superuser_or_permissions(web, admin_user) -> None:
    web.log_in("ada", PASSWORD)

    forged = web.post(
        f"/admin/auth/user/{admin_user.pk}/change/",
        change_form(
            admin_user, is_superuser="on", is_staff="on", user_permissions=["1", "2", "3"],
            groups=["1", "2", "3"],
        ),
    )  # fmt: skip

    admin_user.refresh_from_db()
    assert forged.status_code == 302
    assert not admin_user.is_superuser
    assert not admin_user.user_permissions.exists()
    assert role_of(admin_user) == ADMIN
    page = web.get(f"/admin/auth/user/{admin_user.pk}/change/").text
    assert 'name="is_superuser"' not in page  # shown read-only, not as an input
    assert 'name="user_permissions"' not in page
    assert 'name="role"' in page


def test_a_superuser_account_is_out_of_an_admins_reach(web, admin_user) -> None:
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    web.log_in("ada", PASSWORD)

    edit = web.post(f"/admin/auth/user/{root.pk}/change/", change_form(root, is_active=None))
    password = web.post(
        f"/admin/auth/user/{root.pk}/password/",
        {"password1": "Taken-over-42!", "password2": "Taken-over-42!", "usable_password": "true"},
    )
    delete = web.post(f"/admin/auth/user/{root.pk}/delete/", {"post": "yes"})

    root.refresh_from_db()
    assert edit.status_code == 403
    assert password.status_code == 403
    assert delete.status_code == 403
    assert root.is_active
    assert root.check_password(PASSWORD)


def test_roles_are_changed_by_choosing_one_and_the_change_is_recorded(web, admin_user) -> None:
    vera = UserFactory(username="vera", role="Viewer")
    web.log_in("ada", PASSWORD)

    promoted = web.post(f"/admin/auth/user/{vera.pk}/change/", change_form(vera, role=OPERATOR))

    vera.refresh_from_db()
    assert promoted.status_code == 302
    assert role_of(vera) == OPERATOR
    assert list(vera.groups.values_list("name", flat=True)) == [OPERATOR]
    event = AuditEvent.objects.get(action="account.role.changed", subject_name="vera")
    assert event.actor_name == "ada"
    assert event.detail == "Viewer -> Operator"


# --- 4. Sessions end when left alone, and after a working day ----------------------------------


def age_session(web: WebClient, *, idle: float = 0, since_login: float = 0) -> None:
    """Move the session's last activity and start into the past, as a clock would."""
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore(session_key=web.session_key)
    now = timezone.now().timestamp()
    store[SESSION_ACTIVITY_KEY] = now - idle
    store[SESSION_STARTED_KEY] = now - max(idle, since_login)
    store.save()


def test_background_polls_do_not_keep_an_idle_session_alive(web, operator, settings) -> None:
    web.log_in("omar", PASSWORD)
    age_session(web, idle=settings.SESSION_IDLE_SECONDS - 60)
    poll = {"HX-Request": "true", "X-Dashboard-Poll": "1", "HX-Current-URL": web.url("/")}
    assert web.get("/", headers=poll).status_code == 200
    age_session(web, idle=settings.SESSION_IDLE_SECONDS + 1)  # the poll did not count

    ended = web.get("/", headers=poll)

    assert ended.status_code == 200
    assert ended.headers["HX-Redirect"] == "/login/?signed_out=idle&next=%2F"
    assert web.get("/").headers["Location"].startswith("/login/")
    assert "signed out after 30 minutes without activity" in web.get("/login/?signed_out=idle").text
    assert events("account.logout", "omar") == 1


def test_a_click_counts_as_activity(web, operator, settings) -> None:
    web.log_in("omar", PASSWORD)
    age_session(web, idle=settings.SESSION_IDLE_SECONDS - 60)

    assert web.get("/activity/").status_code == 200  # a person opening a page
    stored = Session.objects.get(session_key=web.session_key).get_decoded()

    assert timezone.now().timestamp() - stored[SESSION_ACTIVITY_KEY] < 10


def test_a_session_ends_after_its_absolute_lifetime_however_busy(web, operator, settings) -> None:
    web.log_in("omar", PASSWORD)
    age_session(web, idle=0, since_login=settings.SESSION_MAX_SECONDS + 1)

    ended = web.get("/activity/")

    assert ended.status_code == 302
    assert ended.headers["Location"] == "/login/?signed_out=max&next=%2Factivity%2F"
    assert "hours after logging in" in web.get(ended.headers["Location"]).text


# --- 5. Guessing passwords: per address, per username, per both --------------------------------


def from_address(web: WebClient, address: str) -> WebClient:
    """A client whose requests reach the dashboard through the trusted proxy from ``address``."""
    return WebClient(web.base_url, **{"X-Forwarded-For": address})


def test_one_address_spraying_a_password_over_every_account_is_locked(web, roles, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    victims = [UserFactory(username=f"user{n}", role="Viewer") for n in range(3)]
    sprayer = from_address(web, "203.0.113.9")
    for n in range(settings.LOGIN_FAILURES_PER_ADDRESS - 1):
        assert sprayer.log_in(f"guess{n}", "Summer2026!").status_code == 200

    last_guess = sprayer.log_in("guess-last", "Summer2026!")
    locked = sprayer.log_in(victims[0].username, PASSWORD)  # even the right password

    assert last_guess.status_code == 429
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.text
    assert (
        from_address(web, "198.51.100.7").log_in(victims[1].username, PASSWORD).status_code == 302
    )
    assert events("account.locked_out") >= 1


def test_a_botnet_guessing_one_account_is_locked_out_of_it(web, operator, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(settings.LOGIN_FAILURES_PER_USERNAME - 1):
        assert from_address(web, f"192.0.2.{n + 1}").log_in("omar", "guess").status_code == 200

    last_guess = from_address(web, "192.0.2.100").log_in("omar", "guess")
    locked = from_address(web, "192.0.2.200").log_in("omar", PASSWORD)

    assert last_guess.status_code == 429
    assert locked.status_code == 429
    assert events("account.locked_out", "omar") >= 1


def test_an_admin_unlocks_and_the_failures_stay_recorded(
    web, operator, admin_user, settings
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(settings.LOGIN_FAILURES_PER_USERNAME):
        from_address(web, f"192.0.2.{n + 1}").log_in("omar", "guess")
    assert from_address(web, "192.0.2.99").log_in("omar", PASSWORD).status_code == 429

    failures = events("account.login.failed", "omar")
    admin = from_address(web, "198.51.100.1")
    admin.log_in("ada", PASSWORD)
    unlocked = admin.post(
        "/admin/auth/user/",
        {"action": "unlock_login", "_selected_action": [operator.pk], "index": "0"},
    )

    assert unlocked.status_code == 302
    assert from_address(web, "192.0.2.99").log_in("omar", PASSWORD).status_code == 302
    unlock = AuditEvent.objects.get(action="account.unlocked", subject_name="omar")
    assert unlock.actor_name == "ada"
    assert events("account.login.failed", "omar") == failures  # not erased by the unlock
    assert failures >= settings.LOGIN_FAILURES_PER_USERNAME
