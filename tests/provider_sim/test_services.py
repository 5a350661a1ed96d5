"""The simulated operations over time (services.py): snapshots complete, restores end, and
what each state allows, over real HTTP."""

import time
from datetime import timedelta
from typing import Any

from django.utils import timezone

from provider_sim.models import SimServer, SimSnapshot
from provider_sim.server import RunningSimulator
from tests.provider_sim.helpers import SPEC_CREATE_REQUEST, call, server_status


def test_snapshot_completes_once_its_time_has_passed(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    created = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST).json()

    listed = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345}).json()
    assert listed["results"][0]["id"] == created["id"]
    assert listed["results"][0]["status"] == "in_progress"
    assert listed["results"][0]["size_mb"] is None

    # An hour later (moved, not waited for).
    SimSnapshot.objects.filter(pk=created["id"]).update(
        complete_at=timezone.now() - timedelta(seconds=1)
    )
    listed = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345}).json()

    done = listed["results"][0]
    assert done["id"] == created["id"]
    assert done["status"] == "completed"
    assert 80 * 1024 * 0.04 <= done["size_mb"] <= 80 * 1024 * 0.09
    assert done["created_at"] == created["created_at"]


def test_snapshot_duration_comes_from_the_setting(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0.3
    created = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST).json()
    assert created["status"] == "in_progress"

    time.sleep(0.4)
    listed = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345}).json()

    assert listed["results"][0]["status"] == "completed"
    assert listed["results"][0]["size_mb"] > 0


def test_restore_of_a_running_server(seeded_simulator: RunningSimulator, settings: Any) -> None:
    settings.VPS_SIM_RESTORE_SECONDS = 3600
    assert call(seeded_simulator, "POST", "snapshots/801/restore/").status_code == 200
    assert server_status(seeded_simulator, 12345) == "restoring"

    again = call(seeded_simulator, "POST", "snapshots/798/restore/")
    snapshot_meanwhile = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST)

    assert again.status_code == 400
    assert "restor" in again.json()["detail"]
    assert snapshot_meanwhile.status_code == 400
    assert "restor" in snapshot_meanwhile.json()["detail"]

    SimServer.objects.filter(pk=12345).update(restore_due_at=timezone.now() - timedelta(seconds=1))

    assert server_status(seeded_simulator, 12345) == "running"
    assert call(seeded_simulator, "POST", "snapshots/798/restore/").status_code == 200


def test_restore_of_a_stopped_server_leaves_it_stopped(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_RESTORE_SECONDS = 0

    response = call(seeded_simulator, "POST", "snapshots/790/restore/")

    assert response.json()["server"] == {"id": 12350, "name": "db-primary", "status": "restoring"}
    assert server_status(seeded_simulator, 12350) == "stopped"


def test_only_completed_snapshots_can_be_restored(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    created = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST).json()

    in_progress = call(seeded_simulator, "POST", f"snapshots/{created['id']}/restore/")
    failed = call(seeded_simulator, "POST", "snapshots/800/restore/")

    assert in_progress.status_code == 400
    assert failed.status_code == 400
    assert "completed" in failed.json()["detail"]
    assert server_status(seeded_simulator, 12345) == "running"
    assert server_status(seeded_simulator, 12350) == "stopped"


def test_a_snapshot_in_progress_cannot_be_deleted(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    created = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST).json()

    refused = call(seeded_simulator, "DELETE", f"snapshots/{created['id']}/")
    SimSnapshot.objects.filter(pk=created["id"]).update(complete_at=timezone.now())
    accepted = call(seeded_simulator, "DELETE", f"snapshots/{created['id']}/")

    assert refused.status_code == 400
    assert refused.json()["detail"]
    assert accepted.status_code == 204
    assert call(seeded_simulator, "DELETE", "snapshots/800/").status_code == 204  # failed
