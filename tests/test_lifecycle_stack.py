"""The lifecycle through the whole stack: a real Celery worker with its beat and a real Redis,
the simulator over HTTP. Schedules come due in real time and the worker's tick carries them
out: rotation at the cap, a skip at 5 of 5 manual, expiry, one schedule over 20 servers."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from provider_sim.models import SimSnapshot
from provider_sim.seed import seed_bulk
from snapshots_ui import schedules
from snapshots_ui.audit import Actor
from snapshots_ui.models import (
    AuditEvent,
    RunState,
    Schedule,
    ScheduleRun,
    SnapshotOrigin,
    SnapshotRecord,
)
from tests.views.helpers import CREATE_CALL, DELETE_CALL, REPLICA, WEB, provider_calls

pytestmark = pytest.mark.stack

FULL = REPLICA  # db-replica: 5 of 5 (785, 786, 788, 792, 796, oldest first)
TICK = {"VPS_LIFECYCLE_TICK_SECONDS": "1"}


def hourly_due_soon(actor: Actor, **fields: object) -> Schedule:
    """An hourly schedule whose next moment is two seconds away."""
    schedule = schedules.schedule_save(
        actor=actor,
        schedule=Schedule(name="hourly", interval_minutes=60, window_minutes=1, **fields),
    )
    soon = timezone.now() + timedelta(seconds=2)
    Schedule.objects.filter(pk=schedule.pk).update(
        anchor_at=soon - timedelta(hours=1), next_run_at=soon
    )
    return schedule


def wait_for(condition: Callable[[], bool], *, seconds: float = 90) -> None:
    """Wait until the worker has done its part (bounded, so a stuck stack fails the test)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.5)


def runs_ended(schedule: Schedule, count: int = 1) -> Callable[[], bool]:
    def ended() -> bool:
        done = ScheduleRun.objects.filter(schedule=schedule).exclude(
            state__in=[RunState.PENDING, RunState.RUNNING]
        )
        return done.count() >= count

    return ended


def test_the_worker_rotates_at_the_cap_before_it_creates(
    seeded_simulator, own_worker, operator, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 2
    actor = Actor(user=operator, ip=None)
    schedule = hourly_due_soon(actor, server_id=FULL)
    for snapshot_id in (788, 792):  # made by earlier runs of this schedule
        SnapshotRecord.objects.create(
            snapshot_id=snapshot_id, server_id=FULL, name=f"earlier-{snapshot_id}",
            origin=SnapshotOrigin.SCHEDULED, schedule=schedule,
        )  # fmt: skip
    own_worker("lifecycle", **TICK).start()

    wait_for(runs_ended(schedule))

    run = ScheduleRun.objects.get(schedule=schedule)
    assert run.state == RunState.SUCCEEDED, run.reason
    left = set(SimSnapshot.objects.filter(server_id=FULL).values_list("pk", flat=True))
    assert len(left) == 5
    assert {785, 786, 792, 796} <= left  # only its own oldest, 788, went
    assert provider_calls(DELETE_CALL) == 1
    assert provider_calls(CREATE_CALL) == 1
    workflow = run.workflow
    assert [(s.action, s.state) for s in workflow.steps.all()] == [
        ("delete", "done"), ("create", "done")
    ]  # fmt: skip


def test_the_worker_skips_at_five_of_five_manual_and_says_why(
    seeded_simulator, own_worker, operator
) -> None:
    schedule = hourly_due_soon(Actor(user=operator, ip=None), server_id=FULL)
    own_worker("lifecycle", **TICK).start()

    wait_for(runs_ended(schedule))

    run = ScheduleRun.objects.get(schedule=schedule)
    assert run.state == RunState.SKIPPED
    assert "no slot can be freed" in run.reason
    assert provider_calls(DELETE_CALL) == 0
    assert provider_calls(CREATE_CALL) == 0
    assert SimSnapshot.objects.filter(server_id=FULL).count() == 5
    assert AuditEvent.objects.filter(action="schedule.run.skipped", server_id=FULL).exists()


def test_the_worker_deletes_expired_snapshots_as_expiry(
    seeded_simulator, own_worker, operator
) -> None:
    SnapshotRecord.objects.create(
        snapshot_id=798, server_id=WEB, name="weekly", keep_until=timezone.now()
    )
    SnapshotRecord.objects.create(
        snapshot_id=801, server_id=WEB, name="kept", keep_until=timezone.now(), protected=True
    )
    own_worker("lifecycle", **TICK).start()

    # The provider's answer comes before the dashboard records it: wait for both.
    wait_for(
        lambda: (
            not SimSnapshot.objects.filter(pk=798).exists()
            and AuditEvent.objects.filter(action="snapshot.delete.done", snapshot_id=798).exists()
        ),
        seconds=60,
    )

    assert not SimSnapshot.objects.filter(pk=798).exists()
    assert SimSnapshot.objects.filter(pk=801).exists()  # protected: kept past its time
    event = AuditEvent.objects.get(action="snapshot.delete.done", snapshot_id=798)
    assert event.actor_name == "expiry"


def test_one_schedule_over_twenty_servers(seeded_simulator, own_worker, operator, settings) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 2
    seed_bulk(20, 2)
    schedule = hourly_due_soon(Actor(user=operator, ip=None), server_pattern="srv-*", keep_newest=1)
    own_worker("lifecycle", **TICK).start()

    wait_for(runs_ended(schedule, count=20), seconds=150)

    runs = ScheduleRun.objects.filter(schedule=schedule)
    assert runs.count() == 20
    assert {run.state for run in runs} == {RunState.SUCCEEDED}
    assert all(run.workflow.finished_at <= run.deadline for run in runs)
    for server_id in runs.values_list("server_id", flat=True):
        names = list(SimSnapshot.objects.filter(server_id=server_id).values_list("name", flat=True))
        assert len(names) == 3  # its two and the schedule's one
        assert sum(name.startswith("hourly-") for name in names) == 1
    assert provider_calls(CREATE_CALL) == 20
    assert provider_calls(DELETE_CALL) == 0  # none of its own to rotate or retire yet
