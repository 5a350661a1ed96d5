"""The stored provider lists (fleet_cache.py): one refresh per cache period, the last known data
through an outage, and actions and polls patching them, against the simulator over real HTTP."""

from __future__ import annotations

import pytest

from provider_sim import controls
from provider_sim.models import SimSnapshot
from snapshots_ui import fleet_cache, polling, provider, services
from snapshots_ui.audit import Actor
from snapshots_ui.statuses import OperationState
from tests.service_helpers import WEB


@pytest.fixture
def actor(operator) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=operator, ip="203.0.113.7")


# --- Reading the stored lists ---------------------------------------------------------------


def test_many_page_views_cost_one_provider_refresh_per_cache_period(seeded_simulator) -> None:
    controls.reset_call_counts()

    for _ in range(20):
        fleet = fleet_cache.fleet_current()

    assert fleet.data is not None
    assert controls.call_counts()["calls"] == 2  # the snapshot list and the server list


def test_provider_outage_serves_the_last_known_data_with_the_reason(seeded_simulator) -> None:
    first = fleet_cache.fleet_current()
    controls.add_fault(status=503)
    fleet_cache.fleet_invalidate()

    stale = fleet_cache.fleet_current()

    assert stale.data == first.data
    assert stale.is_stale
    assert stale.problem


# --- Actions and polls patch them -----------------------------------------------------------


def test_actions_and_polls_bring_the_stored_lists_up_to_date_without_reading_them_again(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    fleet_cache.fleet_current()
    controls.reset_call_counts()

    services.snapshot_create(actor=actor, server_id=WEB, name="told-by-the-answer")
    shown = {s.name: s.status for s in fleet_cache.fleet_current().data.snapshots}
    assert shown["told-by-the-answer"] == "in_progress"
    polling.operations_poll_server(server_id=WEB)  # it has completed meanwhile
    shown = {s.name: s.status for s in fleet_cache.fleet_current().data.snapshots}
    assert shown["told-by-the-answer"] == "completed"
    restore = services.snapshot_restore(
        actor=actor, snapshot_id=stored_snapshot(server_id=12346).id
    )
    assert fleet_cache.fleet_current().data.server(12346).status == "restoring"
    services.snapshot_delete(actor=actor, snapshot_id=stored_snapshot(name="told-by-the-answer").id)

    # The action calls themselves and the one poll; no list of every server or snapshot.
    assert controls.call_counts()["by_endpoint"] == {
        "POST /api/v1/snapshots/": 1,
        "GET /api/v1/snapshots/": 1,  # the poll's list of one server
        "POST /api/v1/snapshots/{id}/restore/": 1,
        "DELETE /api/v1/snapshots/{id}/": 1,
    }
    fleet = fleet_cache.fleet_current().data
    assert {s.id for s in fleet.snapshots} == set(SimSnapshot.objects.values_list("id", flat=True))
    assert restore.state == OperationState.IN_PROGRESS


def stored_snapshot(*, server_id: int | None = None, name: str | None = None) -> provider.Snapshot:
    """A completed snapshot as the pages know it (no provider call)."""
    return next(
        s
        for s in fleet_cache.fleet_current().data.snapshots
        if s.status == "completed"
        and s.server.id == (server_id or s.server.id)
        and s.name == (name or s.name)
    )
