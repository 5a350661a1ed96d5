"""Creating, restoring and deleting snapshots in Chromium, followed live to the end.

The real Celery worker (with beat) polls the simulator every second and the page polls its
operation rows every 1.5 s. "Without a reload" is checked with a marker set on the loaded
document, which any reload or navigation drops.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from snapshots_ui import services
from snapshots_ui.audit import Actor
from snapshots_ui.fleet_cache import FLEET_KEY
from snapshots_ui.models import Operation, OperationKind

pytestmark = pytest.mark.e2e

WEB_01 = 12345  # running, two completed snapshots (798 and 801)
WEB_02 = 12346  # running, one completed snapshot
NO_SNAPSHOTS = 12360  # staging-app
SLOW = 20_000  # ms, for what waits on the worker and the page's polling
# Seconds the simulator would take; the tests that hold an operation let it finish earlier.
HELD = 120


def _operation_requests(requests: list[str], operation: Operation) -> list[str]:
    return [r for r in requests if re.search(rf"^GET \S+/operations/{operation.pk}/", r)]


def _dismiss_toasts(page) -> None:  # type: ignore[no-untyped-def]
    """Close the toasts shown so far, as a user would, so that the next one stands out."""
    toasts = page.locator("#toasts .toast")
    for _ in range(toasts.count()):
        toasts.first.get_by_role("button", name="Dismiss").click()
    expect(toasts).to_have_count(0)


def _expect_finished(page, operation: Operation) -> None:  # type: ignore[no-untyped-def]
    """The operation's row turns to "Succeeded" and one success toast appears that names the
    snapshot and the server (the exact sentence is left to the view)."""
    badge = page.locator(f"#operation-{operation.pk} .badge")
    expect(badge).to_have_attribute("data-status", "succeeded", timeout=SLOW)
    expect(badge).to_have_text("Succeeded")
    toast = page.locator("#toasts .toast")
    expect(toast).to_have_count(1)
    expect(toast).to_have_class(re.compile(r"\btoast-success\b"))
    expect(toast).to_contain_text(f"“{operation.snapshot_name}”")
    expect(toast).to_contain_text(operation.server_name)


def _finish_right_after_a_poll(tab, operation: Operation) -> None:  # type: ignore[no-untyped-def]
    """Let the simulator finish the operation just after the page's poll was answered.

    Left to finish on its own after 2 s, an operation ends in step with the page's polling,
    and the page then often polls in the instant between the worker recording the outcome and
    the worker refreshing the cached server list: the race that the last test of this module
    pins down. Finishing just after a poll, the worker (every second) records the outcome well
    before the next poll, so these tests see the behaviour the dashboard means to have.
    """
    with tab.page.expect_response(re.compile(rf"/operations/{operation.pk}/$")):
        pass
    operation.refresh_from_db()
    now = timezone.now()
    if operation.kind == OperationKind.RESTORE:
        assert SimServer.objects.filter(pk=operation.server_id).update(restore_due_at=now)
    else:
        assert SimSnapshot.objects.filter(pk=operation.snapshot_id).update(complete_at=now)


@pytest.mark.stack
def test_create_goes_from_in_progress_to_completed_without_a_reload(
    open_tab, operator, celery_worker_process, shoot, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = HELD
    tab = open_tab(operator)
    page = tab.page
    page.goto(f"/servers/{WEB_01}/")
    expect(page.locator("#server-header")).to_contain_text("2 of 5 snapshots used")
    expect(page.locator("#create")).to_contain_text("This server is running.")
    page.locator("#id_name").fill("before-php-upgrade")
    page.locator("#id_description").fill("Before the PHP 8.4 upgrade")
    page.get_by_role("button", name="Take snapshot").click()

    expect(page).to_have_url(re.compile(rf"/servers/{WEB_01}/$"))
    started = page.locator("#toasts .toast-success")
    expect(started).to_contain_text("“before-php-upgrade” of web-server-01 started")
    operation = Operation.objects.get(snapshot_name="before-php-upgrade")
    row = page.locator(f"#operation-{operation.pk}")
    expect(row).to_contain_text("Create snapshot")
    expect(row.locator(".badge")).to_have_text("In progress")
    snapshot_row = page.locator("#snapshot-table tbody tr").filter(has_text="before-php-upgrade")
    expect(snapshot_row).to_contain_text("Before the PHP 8.4 upgrade")
    expect(snapshot_row.locator(".badge")).to_have_text("In progress")
    expect(page.locator("#server-header")).to_contain_text("3 of 5 snapshots used")
    tab.set_marker()
    shoot(page, "server-create-in-progress")
    _dismiss_toasts(page)
    _finish_right_after_a_poll(tab, operation)

    _expect_finished(page, operation)
    expect(row.locator("progress")).to_have_count(0)
    expect(snapshot_row.locator(".badge")).to_have_text("Completed", timeout=SLOW)
    expect(snapshot_row).not_to_contain_text("—")  # the size is known once it is completed
    expect(page.locator("#server-history")).to_contain_text("Succeeded")
    assert tab.has_marker(), "the page was reloaded"
    assert _operation_requests(tab.requests, operation), tab.requests
    shoot(page, "server-create-finished")
    assert tab.errors == []


@pytest.mark.stack
def test_restore_asks_for_the_server_name_and_is_followed_to_the_end(
    open_tab, operator, celery_worker_process, shoot, settings
) -> None:
    settings.VPS_SIM_RESTORE_SECONDS = HELD
    tab = open_tab(operator)
    page = tab.page
    page.goto(f"/servers/{WEB_01}/")
    header_badge = page.locator("#server-header .badge")
    expect(header_badge).to_have_text("Running")
    page.locator("#snapshot-801").get_by_role("link", name="Restore…").click()

    expect(page).to_have_url(re.compile(r"/snapshots/801/restore/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Restore web-server-01 from a snapshot"
    )
    expect(page.locator(".facts")).to_contain_text("pre-migration-snapshot")
    expect(page.locator(".danger-zone")).to_contain_text("The provider cannot undo a restore")

    page.get_by_label("Restore without a safety snapshot").check()
    page.locator("#id_confirm_name").fill("web-server-1")
    page.get_by_role("button", name="Restore web-server-01").click()
    error = page.locator(".field-error").get_by_role("alert")
    expect(error).to_contain_text("not the server's name")
    expect(error).to_contain_text("“web-server-01”")
    expect(page).to_have_url(re.compile(r"/snapshots/801/restore/$"))
    expect(page.locator("#id_confirm_name")).to_have_value("web-server-1")
    expect(page.get_by_role("button", name="Restore web-server-01")).to_be_enabled()
    assert not Operation.objects.exists()

    page.get_by_label("Restore without a safety snapshot").check()
    page.locator("#id_confirm_name").fill("web-server-01")
    page.get_by_role("button", name="Restore web-server-01").click()

    expect(page).to_have_url(re.compile(rf"/servers/{WEB_01}/$"))
    expect(page.locator("#toasts .toast-success")).to_contain_text(
        "Restore of web-server-01 from “pre-migration-snapshot” started"
    )
    operation = Operation.objects.get(kind=OperationKind.RESTORE)
    row = page.locator(f"#operation-{operation.pk}")
    expect(row).to_contain_text("Restore server")
    expect(row.locator(".badge")).to_have_text("In progress")
    expect(header_badge).to_have_text("Restoring")
    # While it runs nothing else can be restored.
    expect(page.locator("#snapshot-801 .btn-disabled")).to_have_text("Restore…")
    tab.set_marker()
    shoot(page, "server-restore-in-progress")
    _dismiss_toasts(page)
    _finish_right_after_a_poll(tab, operation)

    _expect_finished(page, operation)
    expect(header_badge).to_have_text(re.compile(r"^(Running|Stopped)$"), timeout=SLOW)
    expect(header_badge).to_have_text("Running")  # it was running before the restore
    expect(page.locator("#snapshot-801").get_by_role("link", name="Restore…")).to_be_visible()
    assert tab.has_marker(), "the page was reloaded"
    assert tab.errors == []


@pytest.mark.stack
def test_take_snapshot_is_possible_again_once_a_restore_has_finished(
    open_tab, operator, celery_worker_process, settings
) -> None:
    settings.VPS_SIM_RESTORE_SECONDS = HELD
    tab = open_tab(operator)
    page = tab.page
    page.goto("/snapshots/801/restore/")
    page.get_by_label("Restore without a safety snapshot").check()
    page.locator("#id_confirm_name").fill("web-server-01")
    page.get_by_role("button", name="Restore web-server-01").click()
    expect(page.locator("#create")).to_contain_text("The server is being restored.")
    expect(page.get_by_role("button", name="Take snapshot")).to_be_disabled()
    tab.set_marker()
    _dismiss_toasts(page)
    operation = Operation.objects.get(kind=OperationKind.RESTORE)
    _finish_right_after_a_poll(tab, operation)

    _expect_finished(page, operation)
    expect(page.locator("#server-header .badge")).to_have_text("Running", timeout=SLOW)
    assert tab.has_marker(), "the page was reloaded"
    # The header and the form came in the same response: the button is enabled the moment the
    # header says Running (checked at once, without waiting for anything more to arrive).
    assert page.get_by_role("button", name="Take snapshot").is_enabled()


def test_admin_deletes_a_snapshot_after_a_confirmation_that_names_it(
    open_tab, admin_user, shoot
) -> None:
    tab = open_tab(admin_user)
    page = tab.page
    page.goto(f"/servers/{WEB_01}/")
    expect(page.locator("#server-header")).to_contain_text("2 of 5 snapshots used")
    name = page.locator("#snapshot-798 th").inner_text()
    assert name.startswith("weekly-snapshot-")
    page.locator("#snapshot-798").get_by_role("link", name="Delete…").click()

    expect(page).to_have_url(re.compile(r"/snapshots/798/delete/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Delete snapshot “{name}”?")
    warning = page.locator(".danger-zone .notice-error")
    expect(warning).to_contain_text(f"“{name}” of web-server-01 will be deleted permanently")
    expect(warning).to_contain_text("cannot be undone")
    page.get_by_role("button", name="Delete permanently").click()

    expect(page).to_have_url(re.compile(rf"/servers/{WEB_01}/$"))
    done = page.locator("#toasts .toast-success")
    expect(done).to_contain_text(f"“{name}” of web-server-01")
    expect(done).to_contain_text(re.compile(r"\bdeleted\b"))
    expect(page.locator("#snapshot-798")).to_have_count(0)
    expect(page.locator("#snapshot-table")).not_to_contain_text(name)
    expect(page.locator("#snapshot-801")).to_be_visible()
    expect(page.locator("#server-header")).to_contain_text("1 of 5 snapshots used")
    expect(page.locator("#server-history")).to_contain_text("Delete snapshot")
    shoot(page, "server-after-delete")
    assert tab.errors == []


@pytest.mark.stack
def test_only_pages_with_an_operation_in_progress_make_requests_after_loading(
    open_tab, operator, viewer, celery_worker_process, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = HELD
    busy, fleet = open_tab(viewer), open_tab(viewer)
    operation = services.snapshot_create(
        actor=Actor(user=operator, ip="127.0.0.1"),
        server_id=WEB_02,
        name="nightly-check",
    )
    busy.page.goto(f"/servers/{WEB_02}/")
    fleet.page.goto("/")
    expect(busy.page.locator(f"#operation-{operation.pk} .badge")).to_have_text("In progress")
    chip = fleet.page.locator(f"#operation-chip-{operation.pk}")
    expect(chip).to_contain_text("Create snapshot · nightly-check · in progress")
    quiet = []
    for path in [f"/servers/{WEB_01}/", f"/servers/{NO_SNAPSHOTS}/", "/activity/"]:
        tab = open_tab(viewer)
        tab.page.goto(path)
        quiet.append((tab, len(tab.requests)))

    # The pages showing the operation poll it (the fleet page asks for its chip) until it
    # is over ...
    _finish_right_after_a_poll(busy, operation)
    expect(chip).to_contain_text("succeeded", timeout=SLOW)
    expect(chip.locator(".spinner")).to_have_count(0)
    expect(
        busy.page.locator("#snapshot-table tbody tr")
        .filter(has_text="nightly-check")
        .locator(".badge")
    ).to_have_text("Completed", timeout=SLOW)
    assert _operation_requests(busy.requests, operation), busy.requests
    chip_polls = [r for r in _operation_requests(fleet.requests, operation) if "chip" in r]
    assert chip_polls, fleet.requests

    # ... and then fall silent, like every page with nothing in progress: a fleet page
    # opened now, and the pages opened meanwhile (observed for the whole operation).
    idle_fleet = open_tab(viewer)
    idle_fleet.page.goto("/")
    expect(idle_fleet.page.locator("#fleet-table")).to_contain_text("web-server-02")
    watched = [*quiet, (busy, len(busy.requests)), (fleet, len(fleet.requests))]
    watched.append((idle_fleet, len(idle_fleet.requests)))
    busy.page.wait_for_timeout(3000)  # a window longer than the 1.5 s polling interval
    assert [tab.requests[seen:] for tab, seen in watched] == [[]] * len(watched)
    assert [tab.errors for tab, _ in watched] == [[]] * len(watched)


@pytest.mark.stack
def test_the_list_reloaded_after_a_create_shows_it_completed_with_a_slow_provider(
    open_tab, operator, celery_worker_process, wait_until
) -> None:
    tab = open_tab(operator)
    page = tab.page
    page.goto(f"/servers/{WEB_02}/")
    page.locator("#id_name").fill("slow-provider-check")
    page.get_by_role("button", name="Take snapshot").click()
    snapshot_row = page.locator("#snapshot-table tbody tr").filter(has_text="slow-provider-check")
    expect(snapshot_row.locator(".badge")).to_have_text("In progress")
    operation = Operation.objects.get(snapshot_name="slow-provider-check")
    _dismiss_toasts(page)
    # The provider is slow to list its servers: twice it answers 503 after 1.8 s (each time
    # within the worker's read timeout), and the client's retries get the list on the third
    # try, about 4 s later. The worker's refresh after the operation finished is the next
    # call that lists them, so the page polls (every 1.5 s) while that refresh is under way.
    controls.add_fault(
        method="GET", path_contains="/servers/", status=503, latency_ms=1800, times=2
    )
    tab.set_marker()

    _expect_finished(page, operation)
    try:
        expect(snapshot_row.locator(".badge")).to_have_text("Completed", timeout=5000)
        assert tab.has_marker(), "the page was reloaded"
    finally:
        # Let the worker's slow refresh land before the database and cache are reset.
        def refreshed() -> bool:
            fleet = cache.get(FLEET_KEY)
            return fleet is not None and any(
                s.name == "slow-provider-check" and s.status == "completed" for s in fleet.snapshots
            )

        wait_until(refreshed, timeout=15, what="the worker's fleet refresh")
