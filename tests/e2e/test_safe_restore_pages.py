"""In Chromium, with a real worker: a restore with a safety snapshot from the plan to its end,
its steps shown live, then undone from the server page; and the choice at 5 of 5."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from provider_sim.models import SimSnapshot
from snapshots_ui.models import SnapshotOrigin, SnapshotRecord, Workflow, WorkflowState

pytestmark = pytest.mark.e2e

WEB_01 = 12345  # snapshots 798 and 801 (the newest, "pre-migration-snapshot")
AT_LIMIT = 12351  # db-replica, 5 of 5
SLOW = 60_000  # ms: a snapshot, then a restore, each polled by the worker


def test_a_restore_takes_a_safety_snapshot_first_and_can_be_undone(
    open_tab, operator, celery_worker_process, shoot, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3
    settings.VPS_SIM_RESTORE_SECONDS = 3
    tab = open_tab(operator)
    page = tab.page
    page.goto("/snapshots/801/restore/")
    take = page.get_by_label("Take a safety snapshot first")
    expect(take).to_be_checked()
    expect(page.locator(".plan-choice", has=take)).to_contain_text("8 min–25 min in all")
    shoot(page, "restore-plan")

    page.get_by_label("Type the server's name to confirm").fill("web-server-01")
    page.get_by_role("button", name="Restore web-server-01").click()

    chain = page.locator(".workflow").first
    expect(chain).to_contain_text("Restore with a safety snapshot")
    expect(chain.locator(".step").first).to_contain_text("safety-before-restore-")
    shoot(page, "restore-chain-running")
    expect(chain.locator("h2 .badge")).to_have_text("Succeeded", timeout=SLOW)
    expect(chain.locator(".step-done")).to_have_count(2)
    undo = page.get_by_role("link", name=re.compile(r"^Undo the restore of "))
    expect(undo).to_be_visible(timeout=SLOW)
    shoot(page, "restore-chain-done")

    undo.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Undo the restore of")
    shoot(page, "restore-undo")
    page.get_by_label("Type the server's name to confirm").fill("web-server-01")
    page.get_by_role("button", name="Restore web-server-01").click()
    expect(page.locator(".workflow").first.locator("h2 .badge")).to_have_text(
        "Succeeded", timeout=SLOW
    )

    chains = list(Workflow.objects.order_by("pk"))
    assert [c.state for c in chains] == [WorkflowState.SUCCEEDED, WorkflowState.SUCCEEDED]
    first_safety = chains[0].steps.get(position=1).snapshot_id
    assert chains[1].steps.get(position=2).snapshot_id == first_safety  # the undo's restore
    assert tab.errors == []


def test_at_five_of_five_the_restore_page_names_what_it_would_replace(
    open_tab, operator, shoot
) -> None:
    by_age = list(SimSnapshot.objects.filter(server_id=AT_LIMIT).order_by("created_at", "id"))
    SnapshotRecord.objects.create(
        snapshot_id=by_age[0].pk, server_id=AT_LIMIT, name=by_age[0].name,
        origin=SnapshotOrigin.SCHEDULED,
    )  # fmt: skip
    tab = open_tab(operator)
    page = tab.page
    page.goto(f"/snapshots/{by_age[-1].pk}/restore/")

    replace = page.get_by_label("Replace the oldest disposable snapshot with it")
    expect(replace).not_to_be_checked()
    expect(page.get_by_label("Restore without a safety snapshot")).not_to_be_checked()
    expect(page.locator(".plan-choice", has=replace)).to_contain_text(f"Delete {by_age[0].name}")
    page.get_by_label("Type the server's name to confirm").fill("db-replica")
    page.get_by_role("button", name="Restore db-replica").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "Choose whether to take a safety snapshot first."
    )
    expect(page.get_by_label("Type the server's name to confirm")).to_have_value("db-replica")
    shoot(page, "restore-full")
    assert not Workflow.objects.exists()
    assert tab.errors == []
