"""Schedules carried out against the simulator over real HTTP: rotation before creation at the
cap, skips with reasons, waiting for a busy server, catch-up, resume, retention, spreading.

No worker runs here: each test calls the tick's parts in-process with the time it chooses,
as the worker's beat would."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from provider_sim.seed import seed_bulk
from snapshots_ui import lifecycle_reads, polling, schedules, selectors, services, workflows
from snapshots_ui.audit import Actor
from snapshots_ui.fleet_cache import fleet_invalidate
from snapshots_ui.models import (
    AuditEvent,
    RunState,
    Schedule,
    ScheduleRun,
    SnapshotOrigin,
    SnapshotRecord,
    WorkflowState,
)
from tests.views.helpers import CREATE_CALL, DELETE_CALL, REPLICA, WEB, provider_calls

FULL = REPLICA  # db-replica: 5 of 5 (785, 786, 788, 792, 796, oldest first)


@pytest.fixture
def actor(operator) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=operator, ip="198.51.100.9")


def make_schedule(actor: Actor, **fields: object) -> Schedule:
    values: dict[str, object] = {"name": "nightly", "cron": "0 3 * * *", "window_minutes": 30}
    values.update(fields)
    if "server_pattern" not in values:
        values.setdefault("server_id", WEB)
    if values.get("interval_minutes"):
        values["cron"] = ""
    return schedules.schedule_save(actor=actor, schedule=Schedule(**values))


def run_due_now(schedule: Schedule) -> datetime:
    """The tick at the schedule's next moment: its runs planned; returns that moment."""
    schedule.refresh_from_db()
    moment = schedule.next_run_at
    assert schedules.schedules_tick(now=moment) == 1
    return moment


def carry_out(server_id: int, *, until: datetime) -> None:
    """Start the runs due by ``until``, let the provider finish, and close them."""
    schedules.schedule_runs_start(now=until)
    polling.operations_poll_server(server_id=server_id)
    workflows.workflows_resume()
    schedules.schedule_runs_finish(now=until)


def own_snapshots(schedule: Schedule, server_id: int, ids: list[int]) -> None:
    """Record these snapshots as the schedule's, as if earlier runs had made them."""
    for snapshot_id in ids:
        snapshot = SimSnapshot.objects.get(pk=snapshot_id)
        SnapshotRecord.objects.create(
            snapshot_id=snapshot_id, server_id=server_id, name=snapshot.name,
            origin=SnapshotOrigin.SCHEDULED, schedule=schedule, created_at=snapshot.created_at,
        )  # fmt: skip


def test_at_the_cap_a_run_deletes_its_own_oldest_first_then_creates(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    schedule = make_schedule(actor, server_id=FULL, description_template="{schedule} of {server}")
    own_snapshots(schedule, FULL, [788, 792])  # the manual 785 and 786 are older
    own_oldest = SimSnapshot.objects.get(pk=788).name

    now = run_due_now(schedule)
    carry_out(FULL, until=now + timedelta(minutes=30))

    run = ScheduleRun.objects.get(schedule=schedule, server_id=FULL)
    assert run.state == RunState.SUCCEEDED
    assert run.workflow.state == WorkflowState.SUCCEEDED
    remaining = SimSnapshot.objects.filter(server_id=FULL)
    assert remaining.count() == 5
    assert not remaining.filter(pk=788).exists()  # its own oldest, not the older manual ones
    assert remaining.filter(pk__in=[785, 786]).count() == 2
    new = remaining.get(name__startswith="nightly-")
    assert new.description == "nightly of db-replica"
    record = SnapshotRecord.objects.get(snapshot_id=new.pk)
    assert (record.origin, record.schedule_id) == (SnapshotOrigin.SCHEDULED, schedule.pk)
    steps = [(s.action, s.snapshot_name) for s in run.workflow.steps.all()]
    assert steps == [("delete", own_oldest), ("create", new.name)]
    assert AuditEvent.objects.filter(action="schedule.run.done", server_id=FULL).count() == 1


def test_when_the_delete_fails_nothing_is_created(seeded_simulator, actor, queued_polls) -> None:
    schedule = make_schedule(actor, server_id=FULL)
    own_snapshots(schedule, FULL, [792])
    controls.add_fault(method="DELETE", status=400, message="Snapshot is locked.", times=1)

    now = run_due_now(schedule)
    carry_out(FULL, until=now + timedelta(minutes=30))

    run = ScheduleRun.objects.get(schedule=schedule, server_id=FULL)
    assert run.state == RunState.FAILED
    assert "Snapshot is locked." in run.reason
    assert provider_calls(CREATE_CALL) == 0
    assert SimSnapshot.objects.filter(server_id=FULL).count() == 5
    assert AuditEvent.objects.filter(action="schedule.run.failed", server_id=FULL).count() == 1


def test_at_five_of_five_manual_a_run_skips_says_why_and_deletes_nothing(
    seeded_simulator, actor, queued_polls
) -> None:
    schedule = make_schedule(actor, server_id=FULL)

    now = run_due_now(schedule)
    carry_out(FULL, until=now + timedelta(minutes=30))

    run = ScheduleRun.objects.get(schedule=schedule, server_id=FULL)
    assert run.state == RunState.SKIPPED
    assert "no slot can be freed" in run.reason
    assert provider_calls() == provider_calls("GET /api/v1/servers/") + provider_calls(
        "GET /api/v1/snapshots/"
    )  # only reads: no create, no delete
    event = AuditEvent.objects.get(action="schedule.run.skipped", server_id=FULL)
    assert event.actor_name == "schedule nightly"
    assert event.detail == run.reason
    assert [r.pk for r in lifecycle_reads.skipped_runs(server_ids=[FULL])[FULL]] == [run.pk]


def test_a_skip_is_shown_until_a_run_succeeds(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    schedule = make_schedule(actor, server_id=FULL)
    now = run_due_now(schedule)
    carry_out(FULL, until=now + timedelta(minutes=30))
    assert FULL in lifecycle_reads.skipped_runs(server_ids=[FULL])

    services.snapshot_delete(actor=actor, snapshot_id=785)  # a slot is free again
    later = run_due_now(schedule)
    carry_out(FULL, until=later + timedelta(minutes=30))

    assert ScheduleRun.objects.filter(schedule=schedule, state=RunState.SUCCEEDED).count() == 1
    assert lifecycle_reads.skipped_runs(server_ids=[FULL]) == {}


def test_the_fleet_is_warned_ahead_of_a_run_that_will_be_skipped(seeded_simulator, actor) -> None:
    schedule = make_schedule(actor, server_id=FULL)
    _fleet, summary = selectors.server_get(server_id=FULL)

    warnings = lifecycle_reads.skips_ahead(summary, lifecycle_reads.records_for(summary))

    assert [(w.schedule.pk, w.at) for w in warnings] == [(schedule.pk, schedule.next_run_at)]
    assert "no slot can be freed" in warnings[0].reason


def test_a_run_waits_while_another_operation_runs_then_skips_at_the_end_of_its_window(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_RESTORE_SECONDS = 3600
    schedule = make_schedule(actor, server_id=WEB, window_minutes=10)
    services.snapshot_restore(actor=actor, snapshot_id=801)
    now = run_due_now(schedule)

    assert schedules.schedule_runs_start(now=now + timedelta(minutes=5)) == 0
    run = ScheduleRun.objects.get(schedule=schedule)
    assert run.state == RunState.PENDING  # waits within the window

    schedules.schedule_runs_start(now=now + timedelta(minutes=11))

    run.refresh_from_db()
    assert run.state == RunState.SKIPPED
    assert run.reason == "Another operation ran on the server for the whole window."
    assert provider_calls(CREATE_CALL) == 0


def test_a_run_missed_by_less_than_half_its_interval_runs_once_older_ones_are_missed(
    seeded_simulator, actor
) -> None:
    schedule = make_schedule(actor, interval_minutes=60)
    now = timezone.now()
    # The dashboard was down for five hours: the last moment was 20 minutes ago.
    Schedule.objects.filter(pk=schedule.pk).update(
        anchor_at=now - timedelta(hours=5, minutes=20),
        next_run_at=now - timedelta(hours=4, minutes=20),
    )

    assert schedules.schedules_tick(now=now) == 1
    assert schedules.schedules_tick(now=now) == 0  # planned once only

    runs = ScheduleRun.objects.filter(schedule=schedule).order_by("due_at")
    assert [r.state for r in runs] == [RunState.MISSED, RunState.PENDING]
    assert now - runs[1].due_at == timedelta(minutes=20)
    missed = AuditEvent.objects.get(action="schedule.run.missed")
    assert missed.detail.startswith("4 missed")
    schedule.refresh_from_db()
    assert schedule.next_run_at == runs[1].due_at + timedelta(hours=1)


def test_resuming_never_fires_at_once(seeded_simulator, actor) -> None:
    schedule = make_schedule(actor, interval_minutes=60)
    schedules.schedule_pause(actor=actor, schedule=schedule, pause=True)
    later = timezone.now() + timedelta(hours=3)  # paused over three of its moments

    schedules.schedule_pause(actor=actor, schedule=schedule, pause=False)

    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now() + timedelta(minutes=59)
    assert schedules.schedules_tick(now=timezone.now()) == 0
    assert later > schedule.next_run_at  # it runs again at its pace from the resume
    actions = list(
        AuditEvent.objects.filter(action__startswith="schedule.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["schedule.created", "schedule.paused", "schedule.resumed"]


def test_after_a_success_retention_deletes_only_its_own_beyond_the_newest_n(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    schedule = make_schedule(actor, server_id=WEB, keep_newest=1)
    own_snapshots(schedule, WEB, [798])  # 801 stays manual

    now = run_due_now(schedule)
    carry_out(WEB, until=now + timedelta(minutes=30))

    names = set(SimSnapshot.objects.filter(server_id=WEB).values_list("name", flat=True))
    assert "pre-migration-snapshot" in names  # the manual one
    assert len(names) == 2  # the new one replaced its own older one
    assert not SimSnapshot.objects.filter(pk=798).exists()
    assert provider_calls(DELETE_CALL) == 1


def test_runs_on_many_servers_are_spread_over_the_first_half_of_the_window(
    seeded_simulator, actor
) -> None:
    seed_bulk(20, 1)
    schedule = make_schedule(actor, server_pattern="srv-*", window_minutes=20)

    now = run_due_now(schedule)

    runs = list(ScheduleRun.objects.filter(schedule=schedule).order_by("start_after"))
    assert len(runs) == 20
    offsets = [run.start_after - now for run in runs]
    assert len(set(offsets)) == 20
    assert offsets[0] == timedelta(0)
    assert offsets[-1] < timedelta(minutes=10)
    assert {run.deadline - now for run in runs} == {timedelta(minutes=20)}


def test_a_schedule_with_no_success_for_twice_its_period_is_stale(seeded_simulator, actor) -> None:
    schedule = make_schedule(actor, interval_minutes=60)
    now = timezone.now()
    assert not schedules.stale(schedule, now=now)

    assert schedules.stale(schedule, now=now + timedelta(hours=2, minutes=1))
    Schedule.objects.filter(pk=schedule.pk).update(last_success_at=now + timedelta(hours=2))
    schedule.refresh_from_db()
    assert not schedules.stale(schedule, now=now + timedelta(hours=2, minutes=1))


def test_the_tick_costs_the_same_however_many_schedules_are_not_due(
    seeded_simulator, actor, django_assert_num_queries
) -> None:
    now = timezone.now()
    with django_assert_num_queries(1):
        assert schedules.schedules_tick(now=now) == 0
    Schedule.objects.bulk_create(
        Schedule(name=f"later-{n}", server_id=WEB, cron="0 3 * * *",
                 next_run_at=now + timedelta(hours=1))
        for n in range(500)
    )  # fmt: skip

    with django_assert_num_queries(1):
        assert schedules.schedules_tick(now=now) == 0


def test_a_server_that_no_longer_exists_is_skipped_with_the_reason(
    seeded_simulator, actor, queued_polls
) -> None:
    schedule = make_schedule(actor, server_id=WEB)
    now = run_due_now(schedule)
    SimServer.objects.filter(pk=WEB).delete()
    fleet_invalidate()
    selectors.server_get(server_id=FULL)  # the lists read again, without it

    schedules.schedule_runs_start(now=now + timedelta(minutes=30))

    run = ScheduleRun.objects.get(schedule=schedule)
    assert run.state == RunState.SKIPPED
    assert run.reason == "The server no longer exists at the provider."
