"""What each role sees on each page, in Chromium: login, the fleet, limits, permissions, the
provider-outage banner, a clean console, and a screenshot of every page."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from provider_sim import controls
from provider_sim.models import SimSnapshot
from snapshots_ui import fleet_cache
from snapshots_ui.models import OperationKind, SnapshotRecord
from snapshots_ui.statuses import OperationState
from tests.factories import PASSWORD, OperationFactory

pytestmark = pytest.mark.e2e

WEB_01 = 12345  # running, two completed snapshots (798 and 801)
NO_SNAPSHOTS = 12360  # staging-app
AT_LIMIT = 12351  # db-replica, 5 of 5
PHONE = {"width": 390, "height": 844}


def test_login_page_leads_to_the_fleet_of_servers(open_tab, viewer) -> None:
    tab = open_tab()
    page = tab.page
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username")

    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Servers", level=1)).to_be_visible()
    expect(page.locator(".userbox")).to_contain_text("vera · Viewer")
    table = page.locator("#fleet-table")
    for name in ["web-server-01", "web-server-02", "db-primary", "db-replica", "staging-app"]:
        expect(table.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.get_by_text("6 servers at the provider.")).to_be_visible()
    staging = table.get_by_role("row").filter(has_text="staging-app")
    expect(staging).to_contain_text("0 of 5")
    expect(staging).to_contain_text("never")
    replica = table.get_by_role("row").filter(has_text="db-replica")
    expect(replica).to_contain_text("5 of 5")
    expect(page.locator("#provider-banner")).to_have_count(0)
    assert tab.errors == []


def test_viewer_sees_no_actions_and_a_friendly_403(open_tab, viewer) -> None:
    tab = open_tab(viewer)
    page = tab.page
    page.goto(f"/servers/{WEB_01}/")
    expect(page.get_by_role("heading", name="web-server-01", level=1)).to_be_visible()
    expect(page.locator("#snapshot-801")).to_contain_text("pre-migration-snapshot")
    expect(page.get_by_role("button", name="Take snapshot")).to_have_count(0)
    expect(page.get_by_text("Take a snapshot")).to_have_count(0)
    expect(page.get_by_role("link", name="Restore…")).to_have_count(0)
    expect(page.get_by_text("Restore…")).to_have_count(0)
    expect(page.get_by_text("Delete…")).to_have_count(0)
    expect(page.get_by_role("link", name="Users & admin")).to_have_count(0)

    response = page.goto("/snapshots/801/restore/")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="You are not allowed to do that")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Operators can also create snapshots")
    expect(page.get_by_role("link", name="Back to the servers")).to_be_visible()
    expect(page.locator("#id_confirm_name")).to_have_count(0)

    response = page.goto("/snapshots/801/delete/")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="You are not allowed to do that")).to_be_visible()
    page.get_by_role("link", name="Back to the servers").click()
    expect(page.get_by_role("heading", name="Servers", level=1)).to_be_visible()
    assert tab.errors == []


def test_the_limit_of_five_is_explained_next_to_a_disabled_form(open_tab, operator) -> None:
    tab = open_tab(operator)
    page = tab.page
    page.goto(f"/servers/{AT_LIMIT}/")
    expect(page.get_by_role("heading", name="db-replica", level=1)).to_be_visible()
    expect(page.locator("#server-header")).to_contain_text("5 of 5 snapshots used")

    # At 5 of 5 the form offers to replace the oldest unprotected snapshot, named.
    oldest = SimSnapshot.objects.filter(server_id=AT_LIMIT).order_by("created_at", "id").first()
    create = page.locator("#create")
    expect(page.locator("#limit-reason")).to_contain_text(
        f"replace the oldest unprotected snapshot, {oldest.name}"
    )
    expect(
        create.get_by_label(f"Delete {oldest.name} first, then take the new snapshot")
    ).to_be_visible()
    expect(create.get_by_role("button", name="Take snapshot")).to_be_enabled()

    # With every one protected, nothing can be replaced: the form is disabled and says why.
    for snapshot in SimSnapshot.objects.filter(server_id=AT_LIMIT):
        SnapshotRecord.objects.create(
            snapshot_id=snapshot.pk, server_id=AT_LIMIT, name=snapshot.name, protected=True
        )
    page.reload()
    expect(create.locator("fieldset")).to_have_attribute("disabled", "")
    expect(create.get_by_role("button", name="Take snapshot")).to_be_disabled()
    expect(page.locator("#id_name")).to_be_disabled()
    reason = page.locator("#limit-reason")
    expect(reason).to_contain_text("5 snapshots, the most the provider allows")
    expect(reason).to_contain_text("every one is protected")
    link = reason.get_by_role("link", name="See the snapshots")
    expect(link).to_have_attribute("href", "#snapshots")
    link.click()
    expect(page).to_have_url(re.compile(r"#snapshots$"))
    expect(page.locator("#snapshots tbody tr")).to_have_count(5)

    # A server below the limit has the form enabled, with no such reason.
    page.goto(f"/servers/{NO_SNAPSHOTS}/")
    expect(page.get_by_role("button", name="Take snapshot")).to_be_enabled()
    expect(page.locator("#limit-reason")).to_have_count(0)
    expect(page.get_by_text("This server has no snapshots yet.")).to_be_visible()
    assert tab.errors == []


def test_a_provider_outage_shows_the_banner_and_the_last_data(open_tab, viewer, shoot) -> None:
    tab = open_tab(viewer)
    page = tab.page
    page.goto("/")
    expect(page.locator("#fleet-table")).to_contain_text("web-server-01")
    expect(page.locator("#provider-banner")).to_have_count(0)

    # What the provider said two minutes ago is all there is when it stops answering.
    stored = cache.get(fleet_cache.FLEET_KEY)
    fleet_cache.fleet_store(replace(stored, fetched_at=stored.fetched_at - timedelta(minutes=2)))
    controls.add_fault(path_contains="/api/v1/", status=503)
    fleet_cache.fleet_invalidate()
    page.reload()

    banner = page.locator("#provider-banner")
    expect(banner).to_contain_text("The provider is not answering right now.")
    expect(banner).to_contain_text(re.compile(r"Showing what it said 2\sminutes ago\."))
    table = page.locator("#fleet-table")
    for name in ["web-server-01", "db-replica", "staging-app"]:
        expect(table.get_by_role("link", name=name, exact=True)).to_be_visible()
    shoot(page, "fleet-provider-down")

    # The server page still renders from the same data, with the same banner.
    page.goto(f"/servers/{WEB_01}/")
    expect(page.locator("#provider-banner")).to_contain_text(
        "The provider is not answering right now."
    )
    expect(page.locator("#snapshot-801")).to_contain_text("pre-migration-snapshot")

    # And the banner goes once the provider answers again.
    controls.clear_faults()
    fleet_cache.fleet_invalidate()
    page.goto("/")
    expect(page.locator("#fleet-table")).to_contain_text("web-server-01")
    expect(page.locator("#provider-banner")).to_have_count(0)
    assert tab.errors == []


def _record_activity() -> None:
    """A few finished operations, so that the activity page has something to show."""
    now = timezone.now()
    OperationFactory(
        snapshot_name="before-php-upgrade",
        state=OperationState.SUCCEEDED,
        started_at=now - timedelta(hours=2, minutes=7),
        finished_at=now - timedelta(hours=2),
        provider_message="Snapshot is being created. This may take 3-10 minutes.",
    )
    OperationFactory(
        kind=OperationKind.RESTORE,
        snapshot_name="pre-migration-snapshot",
        state=OperationState.FAILED,
        started_at=now - timedelta(hours=1, minutes=12),
        finished_at=now - timedelta(hours=1),
        error="The provider reports the server as error after the restore.",
        requested_by_name="ada",
    )
    OperationFactory(
        kind=OperationKind.DELETE,
        server_id=12351,
        server_name="db-replica",
        snapshot_name="weekly-snapshot-2025-01-01",
        state=OperationState.SUCCEEDED,
        started_at=now - timedelta(minutes=20),
        finished_at=now - timedelta(minutes=20),
        provider_message="Snapshot deleted.",
        requested_by_name="ada",
    )


def _sideways_overflow(page) -> int:  # type: ignore[no-untyped-def]
    """How many pixels wider than the window the page is (it then scrolls sideways)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_every_page_has_a_clean_console_and_a_screenshot(
    open_tab, admin_user, viewer, shoot
) -> None:
    _record_activity()
    tabs = []

    anonymous = open_tab()
    tabs.append(anonymous)
    response = anonymous.page.goto("/login/")
    assert response is not None
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    expect(anonymous.page.get_by_role("heading", name="Log in")).to_be_visible()
    shoot(anonymous.page, "login")

    admin = open_tab(admin_user)
    tabs.append(admin)
    page = admin.page
    page.goto("/")
    expect(page.locator("#fleet-table")).to_contain_text("web-server-01")
    shoot(page, "fleet")

    page.get_by_role("link", name="web-server-01", exact=True).click()
    expect(page.get_by_role("heading", name="web-server-01", level=1)).to_be_visible()
    expect(page.locator("#server-history")).to_contain_text("before-php-upgrade")
    shoot(page, "server")

    page.goto(f"/servers/{AT_LIMIT}/")
    expect(page.locator("#limit-reason")).to_be_visible()
    shoot(page, "server-at-limit")

    page.goto(f"/servers/{NO_SNAPSHOTS}/")
    expect(page.get_by_text("This server has no snapshots yet.")).to_be_visible()
    shoot(page, "server-without-snapshots")

    page.goto(f"/servers/{WEB_01}/")
    page.locator("#snapshot-801").get_by_role("link", name="Restore…").click()
    expect(
        page.get_by_role("heading", name="Restore web-server-01 from a snapshot")
    ).to_be_visible()
    shoot(page, "restore-confirm")
    page.get_by_label("Restore without a safety snapshot").check()
    page.locator("#id_confirm_name").fill("web-server")
    page.get_by_role("button", name="Restore web-server-01").click()
    expect(page.locator(".field-error")).to_contain_text("not the server's name")
    shoot(page, "restore-confirm-wrong-name")

    page.goto(f"/servers/{WEB_01}/")
    page.locator("#snapshot-798").get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Delete snapshot"))).to_be_visible()
    shoot(page, "delete-confirm")

    page.get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name="Activity", level=1)).to_be_visible()
    expect(page.locator("#activity-table tbody tr")).to_have_count(3)
    shoot(page, "activity")
    page.get_by_label("Action").select_option("restore")
    expect(page.locator("#activity-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"kind=restore"))
    page.get_by_label("Action").select_option("account")
    expect(page.locator("#activity-table thead")).to_contain_text("Event")
    expect(page.locator("#activity-table tbody")).to_contain_text("Logged in")
    shoot(page, "activity-account-events")

    page.goto("/account/password/")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    shoot(page, "password-change")

    response = page.goto("/servers/99999/")
    assert response is not None
    assert response.status == 404
    shoot(page, "404")

    forbidden = open_tab(viewer)
    tabs.append(forbidden)
    response = forbidden.page.goto("/snapshots/801/restore/")
    assert response is not None
    assert response.status == 403
    expect(
        forbidden.page.get_by_role("heading", name="You are not allowed to do that")
    ).to_be_visible()
    shoot(forbidden.page, "403")

    phone = open_tab(viewer, viewport=PHONE)
    tabs.append(phone)
    phone.page.goto("/")
    expect(phone.page.locator("#fleet-table")).to_contain_text("web-server-01")
    shoot(phone.page, "fleet-phone")
    assert _sideways_overflow(phone.page) == 0  # the table scrolls inside its card
    phone.page.goto(f"/servers/{WEB_01}/")
    expect(phone.page.locator("#snapshot-801")).to_be_visible()
    shoot(phone.page, "server-phone")

    assert [tab.errors for tab in tabs] == [[]] * len(tabs)


def test_a_server_page_fits_a_phone_screen(open_tab, admin_user) -> None:
    tab = open_tab(admin_user, viewport=PHONE)
    page = tab.page
    for path in ["/", "/activity/", "/snapshots/801/restore/", f"/servers/{NO_SNAPSHOTS}/"]:
        page.goto(path)
        assert _sideways_overflow(page) == 0, path
    page.goto(f"/servers/{WEB_01}/")
    restore = page.locator("#snapshot-801").get_by_role("link", name="Restore…")
    expect(restore).to_be_attached()
    assert _sideways_overflow(page) == 0
    expect(restore).to_be_in_viewport()


def test_the_console_check_does_notice_a_csp_violation(open_tab, viewer) -> None:
    """The check above would pass on a page that hid its errors; show that it does not."""
    tab = open_tab(viewer)
    tab.page.goto("/")
    expect(tab.page.locator("#fleet-table")).to_contain_text("web-server-01")
    with tab.page.expect_console_message(lambda message: "CSP violation" in message.text):
        tab.page.evaluate(
            """document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>')"""
        )
    assert any("CSP violation: style-src" in error for error in tab.errors), tab.errors


def test_setting_up_two_factor_login_in_the_browser(open_tab, operator, shoot, settings) -> None:
    from base64 import b32decode

    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a person retrying waits longer than this test
    tab = open_tab(operator)
    page = tab.page
    page.goto("/account/two-factor/")
    expect(page.get_by_role("heading", name="Two-factor login", level=1)).to_be_visible()
    expect(page.get_by_alt_text("QR code for your authenticator app")).to_be_visible()
    secret = page.locator(".secret").inner_text().strip()
    shoot(page, "two-factor-setup")
    assert not TOTPDevice.objects.exists()  # looking at the page writes nothing

    code_field = page.get_by_label("Six-digit code from your authenticator app")
    code_field.fill("000000")
    page.get_by_role("button", name="Turn on two-factor login").click()
    expect(page.locator(".field-error")).to_contain_text("not valid")
    expect(page.locator(".secret")).to_have_text(secret)  # the same key to scan
    shoot(page, "two-factor-setup-wrong-code")

    code = totp(b32decode(secret), step=30, digits=6)
    code_field.fill(f"{code:06d}")
    page.get_by_role("button", name="Turn on two-factor login").click()
    expect(page.locator("#toasts")).to_contain_text("Two-factor login is on.")
    assert TOTPDevice.objects.get().confirmed
    assert tab.errors == []
