"""The activity page's server filter (servers by name) and where toasts appear: in the page's
flow, covering no control, reachable by keyboard and announced (status, errors alert)."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from snapshots_ui.models import Operation, OperationKind
from snapshots_ui.statuses import OperationState
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import OperationFactory

pytestmark = pytest.mark.e2e

WEB_01 = 12345
DB_REPLICA = 12351
PHONE = {"width": 390, "height": 844}

# Controls (anything one can click, type into or tab to) outside the toasts whose box meets a
# toast's box, as "tag: text".
COVERED_CONTROLS = """() => {
  const toasts = [...document.querySelectorAll("#toasts .toast")]
    .map((t) => t.getBoundingClientRect());
  const controls = document.querySelectorAll(
    "a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex='-1'])");
  return [...controls]
    .filter((c) => !c.closest("#toasts") && c.getClientRects().length > 0)
    .filter((c) => {
      const r = c.getBoundingClientRect();
      return toasts.some((t) =>
        r.left < t.right && r.right > t.left && r.top < t.bottom && r.bottom > t.top);
    })
    .map((c) => c.tagName + ": " + (c.textContent || c.name || "").trim().slice(0, 40));
}"""


def _covered_controls(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Checked with the page scrolled to its top, then to its bottom."""
    covered = page.evaluate(COVERED_CONTROLS)
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    covered += page.evaluate(COVERED_CONTROLS)
    page.evaluate("window.scrollTo(0, 0)")
    return covered


def _focused(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "document.activeElement.id || document.activeElement.getAttribute('aria-label') || ''"
    )


def test_the_activity_is_filtered_by_a_server_chosen_by_name(open_tab, viewer, shoot) -> None:
    OperationFactory(snapshot_name="before-php-upgrade", state=OperationState.SUCCEEDED)
    OperationFactory(
        kind=OperationKind.DELETE, server_id=DB_REPLICA, server_name="db-replica",
        snapshot_name="weekly-2025-01-01", state=OperationState.SUCCEEDED, requested_by_name="ada",
    )  # fmt: skip
    OperationFactory(server_id=4242, server_name="retired-box", snapshot_name="last-one")
    tab = open_tab(viewer)
    page = tab.page
    page.goto("/activity/")
    rows = page.locator("#activity-table tbody tr")
    expect(rows).to_have_count(3)
    server = page.get_by_label("Server", exact=True)
    expect(server.locator("option")).to_have_text(
        ["Any server", "db-primary", "db-replica", "mail-relay", "retired-box", "staging-app",
         "web-server-01", "web-server-02"]
    )  # fmt: skip
    # Chromium draws no open drop-down in a screenshot: shown as a list box for this one.
    server.evaluate("select => { select.size = 8; }")
    page.locator("form.filters").screenshot(path=str(SCREENSHOTS / "activity-filters-servers.png"))
    server.evaluate("select => { select.size = 0; }")

    server.select_option(label="db-replica")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("weekly-2025-01-01")
    expect(page).to_have_url(re.compile(rf"server={DB_REPLICA}"))
    shoot(page, "activity-filters")

    page.goto(f"/servers/{WEB_01}/")
    page.get_by_role("link", name="All activity for this server").click()
    expect(page).to_have_url(re.compile(rf"/activity/\?server={WEB_01}$"))
    expect(server).to_have_value(str(WEB_01))
    expect(server.locator("option:checked")).to_have_text("web-server-01")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("before-php-upgrade")

    page.goto("/activity/?server=web-server-01")
    expect(page.get_by_role("alert")).to_have_text(
        "That is not a server the dashboard knows; choose one from the list."
    )
    expect(page.locator("#activity-table")).to_contain_text("Some filters were not understood")
    expect(rows).to_have_count(3)
    shoot(page, "activity-filters-wrong-server")
    assert tab.errors == []


def test_toasts_cover_no_control_and_are_reachable_by_keyboard(open_tab, operator, shoot) -> None:
    tab = open_tab(operator)
    page = tab.page
    page.goto(f"/servers/{WEB_01}/")
    page.locator("#id_name").fill("before-php-upgrade")
    page.get_by_role("button", name="Take snapshot").click()
    started = page.get_by_role("status").filter(has_text="“before-php-upgrade”")
    expect(started).to_be_visible()
    # An error toast, as when the dashboard cannot be reached.
    page.evaluate("document.body.dispatchEvent(new CustomEvent('htmx:sendError'))")
    expect(page.get_by_role("alert")).to_contain_text("The dashboard cannot be reached.")
    expect(page.locator("#toasts .toast")).to_have_count(2)

    assert _covered_controls(page) == []
    toasts_end = page.locator("#toasts").bounding_box()
    main = page.locator("main").bounding_box()
    assert toasts_end is not None
    assert main is not None
    assert main["y"] >= toasts_end["y"] + toasts_end["height"]  # the page starts below them
    shoot(page, "server-toasts")

    page.locator(".topbar button").last.focus()  # the top bar's last control
    page.keyboard.press("Tab")
    assert _focused(page) == "Dismiss"
    page.keyboard.press("Enter")
    expect(page.locator("#toasts .toast")).to_have_count(1)
    assert _focused(page) == "Dismiss"  # the next toast's button
    page.keyboard.press("Escape")
    expect(page.locator("#toasts .toast")).to_have_count(0)
    assert _focused(page) == "main"
    assert tab.errors == []


def test_toasts_on_a_phone_and_right_to_left(open_tab, operator, shoot) -> None:
    tab = open_tab(operator, viewport=PHONE)
    page = tab.page
    page.goto(f"/servers/{WEB_01}/")
    page.evaluate(
        "document.body.dispatchEvent(new CustomEvent('operation-finished', {detail: "
        "{message: 'Snapshot “before-php-upgrade” of web-server-01 completed.'}}))"
    )
    toast = page.get_by_role("status")
    expect(toast).to_contain_text("completed")

    assert _covered_controls(page) == []
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") == 0
    shoot(page, "server-toast-phone")

    page.evaluate("document.documentElement.dir = 'rtl'")
    border = toast.evaluate(
        "t => [getComputedStyle(t).borderRightWidth, getComputedStyle(t).borderLeftWidth]"
    )
    assert border == ["4px", "1px"]  # the coloured edge is where the text starts
    assert _covered_controls(page) == []
    shoot(page, "server-toast-phone-rtl")
    assert tab.errors == []


HOSTILE_NAME = "<img src=x onerror=alert(1)>"


def test_a_hostile_snapshot_name_shows_in_its_toast_as_text(open_tab, viewer) -> None:
    """The finished operation's toast puts the name in as text: no element is made of it, no
    handler of it runs (a dialog), nothing is fetched for it (a console error)."""
    operation = OperationFactory(snapshot_name=HOSTILE_NAME)  # in progress on web-server-01
    tab = open_tab(viewer)
    page = tab.page
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"/servers/{WEB_01}/")
    expect(page.locator(f"#operation-{operation.pk}")).to_contain_text(HOSTILE_NAME)
    Operation.objects.filter(pk=operation.pk).update(
        state=OperationState.SUCCEEDED, finished_at=timezone.now()
    )

    toast = page.locator("#toasts .toast-success")
    # The row's next status request brings the toast.
    expect(toast).to_contain_text(f"“{HOSTILE_NAME}” of web-server-01", timeout=15_000)
    assert page.locator("#toasts img").count() == 0
    assert dialogs == []
    assert tab.errors == []
