"""In Chromium: an Admin adds a signed webhook target, sends it a test and sees the result in
its delivery log; a paused target shows a banner on every page until an Admin resumes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from snapshots_ui.models import NotificationTarget
from tests.notify_receiver import Receiver

pytestmark = pytest.mark.e2e

SECRET = "e2e-shared-secret-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.mark.stack  # a real worker sends the test
def test_an_admin_adds_a_webhook_and_sends_it_a_test(
    open_tab, admin_user, celery_worker_process, receiver, shoot
) -> None:
    tab = open_tab(admin_user)
    page = tab.page
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Notifications").click()
    expect(page.get_by_text("No notification target yet.")).to_be_visible()
    page.get_by_role("link", name="New target").click()

    page.get_by_label("Name").fill("ops webhook")
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("Address").fill(f"{receiver.url}/hooks/token-in-the-path")
    page.get_by_role("button", name="Save the target").click()
    expect(page.get_by_text("A webhook needs a signing secret")).to_be_visible()
    shoot(page, "notify-target-form-error")
    page.get_by_label("Signing secret").fill(SECRET)
    page.get_by_label("Restore failed").check()
    page.get_by_label("Snapshot failed").check()
    page.get_by_role("button", name="Save the target").click()

    expect(page.get_by_role("heading", name="ops webhook", level=1)).to_be_visible()
    expect(page.locator("p.muted", has_text="Stored address")).to_contain_text("/…")
    assert "token-in-the-path" not in page.content()
    assert SECRET not in page.content()
    page.get_by_role("button", name="Send a test").click()
    log = page.locator("#delivery-log")
    expect(log).to_contain_text("Delivered", timeout=20_000)
    expect(log).to_contain_text("HTTP 200")
    shoot(page, "notify-target-test-sent")
    assert receiver.received[0].json["test"] is True

    page.get_by_role("link", name="Notifications").first.click()
    row = page.locator("#notify-targets tr", has_text="ops webhook")
    expect(row).to_contain_text("create.failed, restore.failed")
    expect(row).not_to_contain_text("token-in-the-path")
    shoot(page, "notify-targets")
    assert tab.errors == []


def test_a_paused_target_shows_a_banner_until_an_admin_resumes_it(
    open_tab, admin_user, operator, shoot
) -> None:
    NotificationTarget.objects.create(
        name="team chat", kind="apprise", address="json://127.0.0.1:9/chat",
        paused_at=timezone.now(), consecutive_failures=10,
    )  # fmt: skip
    operator_tab = open_tab(operator)
    operator_tab.page.goto("/")
    expect(operator_tab.page.locator("#notify-paused")).to_have_count(0)  # Admins only

    tab = open_tab(admin_user)
    page = tab.page
    page.goto("/")
    banner = page.locator("#notify-paused")
    expect(banner).to_contain_text("“team chat” is paused")
    shoot(page, "notify-paused-banner")
    banner.get_by_role("link", name="Review and resume").click()

    expect(page.locator("#target-paused")).to_contain_text("after 10 failed deliveries in a row")
    shoot(page, "notify-paused-target")
    page.locator("#target-paused").get_by_role("button", name="Resume").click()

    expect(page.get_by_text("“team chat” resumed")).to_be_visible()
    expect(page.locator("#notify-paused")).to_have_count(0)
    assert not NotificationTarget.objects.get().is_paused
    assert tab.errors == []


def test_the_notification_pages_fit_a_phone_screen(open_tab, admin_user, shoot) -> None:
    NotificationTarget.objects.create(
        name="a team chat with a long name", kind="apprise",
        address="json://127.0.0.1:9/chat", paused_at=timezone.now(), consecutive_failures=10,
    )  # fmt: skip
    tab = open_tab(admin_user, viewport={"width": 390, "height": 844})
    page = tab.page
    for path in ["/notifications/", "/notifications/targets/new/", "/account/notifications/"]:
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth - innerWidth") == 0, path
    page.goto("/notifications/")
    shoot(page, "notify-targets-phone")
    assert tab.errors == []
