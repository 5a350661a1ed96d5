"""In Chromium: a schedule's form shows its two weeks before it is saved, protecting a snapshot
takes its delete away, and several snapshots are deleted after the count is typed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from provider_sim.models import SimSnapshot
from snapshots_ui.models import Schedule, SnapshotRecord
from tests.factories import ScheduleFactory

pytestmark = pytest.mark.e2e

WEB_01 = 12345  # snapshots 798 and 801 (the newest)
AT_LIMIT = 12351  # db-replica, 5 of 5 manual snapshots


def test_a_schedule_shows_its_next_two_weeks_before_it_is_saved(open_tab, operator, shoot) -> None:
    tab = open_tab(operator)
    page = tab.page
    page.goto("/schedules/")
    expect(page.get_by_text("No schedule yet.")).to_be_visible()
    page.get_by_role("link", name="New schedule").click()

    page.get_by_role("textbox", name="Name", exact=True).fill("db nightly")
    page.get_by_label("every server whose name matches").check()
    page.get_by_label("Server names like").fill("db-*")
    page.get_by_label("Cron expression").fill("0 3 * * *")
    with page.expect_response(lambda r: r.request.method == "POST" and "/schedules/new/" in r.url):
        page.get_by_label("Keep the newest").fill("2")
        page.get_by_label("Keep the newest").blur()

    preview = page.locator("#schedule-preview")
    expect(preview).to_contain_text("On 2 servers: 14 snapshots taken")
    expect(preview).to_contain_text("14 runs would be skipped.")  # db-replica: 5 of 5 manual
    expect(preview.get_by_role("heading", name="db-replica")).to_be_visible()
    assert not Schedule.objects.exists()  # a preview saves nothing
    shoot(page, "schedule-preview")

    page.get_by_role("button", name="Save the schedule").click()

    expect(page.get_by_role("heading", name="Schedules", level=1)).to_be_visible()
    row = page.locator("tr", has_text="db nightly")
    expect(row).to_contain_text("0 3 * * *")
    expect(row.get_by_role("button", name="Pause")).to_be_visible()
    shoot(page, "schedules")
    assert Schedule.objects.get().server_pattern == "db-*"
    assert tab.errors == []


def test_a_protected_snapshot_cannot_be_deleted_and_the_button_says_why(
    open_tab, admin_user, shoot
) -> None:
    tab = open_tab(admin_user)
    page = tab.page
    page.goto(f"/servers/{WEB_01}/")
    row = page.locator("#snapshot-801")

    row.get_by_role("button", name="Protect").click()

    row = page.locator("#snapshot-801")
    expect(row.locator(".tag-protected")).to_have_text("protected")
    blocked = row.locator("[aria-disabled=true]", has_text="Delete…")
    expect(blocked).to_have_attribute(
        "title", "Protected: nobody can delete it until an Admin lifts the protection."
    )
    expect(row.get_by_role("link", name="Delete…")).to_have_count(0)
    expect(row.get_by_role("button", name="Lift protection")).to_be_visible()
    expect(page.locator(".slots .slot-protected")).to_have_count(1)
    shoot(page, "server-protected")
    assert SnapshotRecord.objects.get(snapshot_id=801).protected
    assert tab.errors == []


def test_several_snapshots_are_deleted_once_the_count_is_typed(open_tab, admin_user, shoot) -> None:
    tab = open_tab(admin_user)
    page = tab.page
    page.goto(f"/servers/{AT_LIMIT}/")
    for snapshot_id in (785, 786):
        page.locator(f"#snapshot-{snapshot_id} input[name=ids]").check()

    page.get_by_role("button", name="Delete the selected…").click()

    expect(page.get_by_role("heading", name="2 snapshots will be deleted.")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Type delete 2 snapshots to confirm").fill("delete them")
    page.get_by_role("button", name="Delete them permanently").click()
    expect(page.get_by_role("alert")).to_contain_text("Type “delete 2 snapshots” exactly")
    expect(page.get_by_label("Type delete 2 snapshots to confirm")).to_have_value("delete them")
    shoot(page, "delete-many-confirm")
    assert SimSnapshot.objects.filter(server_id=AT_LIMIT).count() == 5

    page.get_by_label("Type delete 2 snapshots to confirm").fill("delete 2 snapshots")
    page.get_by_role("button", name="Delete them permanently").click()

    expect(page.get_by_role("heading", name="2 snapshots deleted")).to_be_visible()
    shoot(page, "delete-many-done")
    assert SimSnapshot.objects.filter(server_id=AT_LIMIT).count() == 3
    assert tab.errors == []


def test_the_fleet_shows_each_servers_slots_and_warns_of_a_run_that_will_be_skipped(
    open_tab, viewer, shoot
) -> None:
    ScheduleFactory(server_id=AT_LIMIT, name="db nightly")
    tab = open_tab(viewer)

    tab.page.goto("/")

    row = tab.page.locator("#fleet-table tr", has_text="db-replica")
    expect(row.locator(".slots-compact .slot")).to_have_count(5)
    expect(row.locator(".warn-mark")).to_contain_text("“db nightly” will skip")
    expect(tab.page.locator("#fleet-table .slots-compact")).to_have_count(6)
    shoot(tab.page, "fleet-slots")
    assert tab.errors == []
