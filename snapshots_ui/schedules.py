"""Schedules carried out: the periodic tick turns due timetables into runs, starts runs (each a
workflow that rotates before it creates), finishes them and applies retention.

What a run does is decided by ``schedule_plan``; every step goes through the workflow engine
and the normal actions, so it is audited like a person's click, with the schedule as actor.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from snapshots_ui import refusals, schedule_plan, selectors, services, workflows
from snapshots_ui.audit import Actor, audit_record
from snapshots_ui.fleet_cache import FleetUnavailable, FleetView, fleet_current, fleet_refresh
from snapshots_ui.models import (
    SCHEDULE_ACTOR_PREFIX,
    RunState,
    Schedule,
    ScheduleRun,
    SnapshotOrigin,
    SnapshotRecord,
    StepAction,
    WorkflowKind,
    WorkflowState,
)
from snapshots_ui.provider import Server, budget

logger = logging.getLogger(__name__)


def schedule_actor(schedule: Schedule) -> Actor:
    return Actor(user=None, ip=None, label=f"{SCHEDULE_ACTOR_PREFIX}{schedule.name}")


def timetable_of(schedule: Schedule) -> schedule_plan.Timetable:
    return schedule_plan.Timetable(
        cron=schedule.cron,
        interval_minutes=schedule.interval_minutes,
        time_zone=schedule.time_zone,
        anchor_at=schedule.anchor_at,
    )


def _audit(actor: Actor, action: str, schedule: Schedule, detail: str = "", **server: object):
    audit_record(actor=actor, action=action, subject=schedule.name, detail=detail, **server)  # type: ignore[arg-type]


# --- Managing schedules ---------------------------------------------------------------------------


def schedule_save(*, actor: Actor, schedule: Schedule) -> Schedule:
    """Create or change a schedule; its next run is the timetable's next moment from now."""
    created = schedule.pk is None
    now = timezone.now()
    if created or schedule.interval_minutes:
        schedule.anchor_at = now
    schedule.next_run_at = (
        None
        if schedule.paused
        else schedule_plan.next_occurrence(timetable_of(schedule), after=now)
    )
    with transaction.atomic():
        schedule.save()
        _audit(actor, "schedule.created" if created else "schedule.changed", schedule,
               detail=describe(schedule))  # fmt: skip
    return schedule


def schedule_pause(*, actor: Actor, schedule: Schedule, pause: bool) -> Schedule:
    """Pause, or resume: a resumed schedule waits for its next moment (it never fires at
    once for the time it was paused)."""
    now = timezone.now()
    schedule.paused = pause
    if not pause:
        schedule.anchor_at = now
    schedule.next_run_at = (
        None if pause else schedule_plan.next_occurrence(timetable_of(schedule), after=now)
    )
    with transaction.atomic():
        schedule.save(update_fields=["paused", "anchor_at", "next_run_at"])
        _audit(actor, "schedule.paused" if pause else "schedule.resumed", schedule)
    return schedule


def schedule_delete(*, actor: Actor, schedule: Schedule) -> None:
    """Its snapshots stay (they become nobody's schedule's: kept until deleted or expired)."""
    with transaction.atomic():
        _audit(actor, "schedule.deleted", schedule, detail=describe(schedule))
        schedule.delete()


def describe(schedule: Schedule) -> str:
    when = schedule.cron or f"every {schedule.interval_minutes} min"
    target = schedule.server_pattern or f"server {schedule.server_id}"
    keep = ", ".join(
        part
        for part in (
            f"newest {schedule.keep_newest}" if schedule.keep_newest else "",
            f"{schedule.keep_days} days" if schedule.keep_days else "",
        )
        if part
    )
    return f"{when} ({schedule.time_zone}) on {target}; keep {keep or 'all'}"


def schedule_servers(schedule: Schedule, fleet: FleetView) -> list[Server]:
    """The servers a schedule covers, from the stored lists."""
    if fleet.data is None:
        return []
    if schedule.server_id is not None:
        return [s for s in fleet.data.servers if s.id == schedule.server_id]
    return [
        s
        for s in fleet.data.servers
        if schedule_plan.server_matches(schedule.server_pattern, s.name)
    ]


# --- The tick: due timetables become runs ---------------------------------------------------------


def schedules_tick(*, now: datetime) -> int:
    """Plan the runs of every schedule due by ``now`` (the index on the next run keeps this
    independent of the schedules not due); returns how many schedules were due."""
    due = list(Schedule.objects.filter(paused=False, next_run_at__lte=now))
    if not due:
        return 0
    fleet = fleet_current(refresh=False)
    if fleet.data is None or not fleet.data.complete:
        fleet = fleet_refresh(patient=True)  # nobody waits for this one
    if fleet.data is None or not fleet.data.complete:
        logger.warning(
            "%d schedules due, but no server list yet: planned at the next tick", len(due)
        )
        return 0
    for schedule in due:
        _plan_runs(schedule, fleet=fleet, now=now)
    return len(due)


def _plan_runs(schedule: Schedule, *, fleet: FleetView, now: datetime) -> None:
    timetable = timetable_of(schedule)
    assert schedule.next_run_at is not None
    caught = schedule_plan.catch_up(
        timetable, planned_until=schedule.next_run_at - timedelta(microseconds=1), now=now
    )
    servers = schedule_servers(schedule, fleet)
    window = timedelta(minutes=schedule.window_minutes)
    if caught.missed:
        for server in servers:
            ScheduleRun.objects.get_or_create(
                schedule=schedule, server_id=server.id, due_at=caught.missed[-1],
                defaults={"server_name": server.name, "state": RunState.MISSED,
                          "start_after": caught.missed[-1], "deadline": caught.missed[-1],
                          "finished_at": now,
                          "reason": _("The dashboard was not running at its time.")},
            )  # fmt: skip
        last = caught.missed[-1].isoformat()
        detail = f"{len(caught.missed)} missed, the last at {last}"
        _audit(schedule_actor(schedule), "schedule.run.missed", schedule, detail=detail)
    if caught.due is not None:
        for position, server in enumerate(servers):
            offset = schedule_plan.spread(position, len(servers), window=window)
            ScheduleRun.objects.get_or_create(
                schedule=schedule, server_id=server.id, due_at=caught.due,
                defaults={"server_name": server.name, "start_after": caught.due + offset,
                          "deadline": caught.due + window},
            )  # fmt: skip
    Schedule.objects.filter(pk=schedule.pk).update(
        next_run_at=schedule_plan.next_occurrence(timetable, after=now)
    )


# --- Runs: start, then finish -------------------------------------------------------------------


# A run costs at most two calls (delete, create). Runs start while this share of the background
# budget is still free in the current minute: following the operations in progress, which
# stretches its period to what is left, and reading the lists keep a little room.
RUN_START_RESERVE = 0.1


def schedule_runs_start(*, now: datetime, limit: int = 200) -> int:
    """Start the runs whose moment has come, as many as the provider budget allows now (the
    others wait for the next tick, within their window); returns how many started."""
    _skip_overdue(now=now)
    background = budget.limits().background_per_minute
    allowance = budget.background_left() - math.ceil(background * RUN_START_RESERVE)
    started = 0
    pending = ScheduleRun.objects.filter(state=RunState.PENDING, start_after__lte=now)
    for run in pending.select_related("schedule").order_by("start_after")[:limit]:
        if allowance < 2:
            break
        try:
            if _start_run(run, now=now):
                started += 1
                allowance -= 2
        except FleetUnavailable:
            break  # no provider data: try again at the next tick
        except Exception:
            logger.exception("starting run %s failed", run.pk)
    return started


def _skip_overdue(*, now: datetime) -> None:
    """Runs still waiting at the end of their window are skipped, saying why."""
    overdue = ScheduleRun.objects.filter(state=RunState.PENDING, deadline__lt=now)
    for run in overdue.select_related("schedule"):
        busy = selectors.operations_active_for_server(server_id=run.server_id).exists()
        reason = (
            _("Another operation ran on the server for the whole window.")
            if busy
            else _("Could not start within its window: the provider's request budget was in use.")
        )
        _skip(run, reason, now=now)


def _skip(run: ScheduleRun, reason: str, *, now: datetime) -> None:
    ScheduleRun.objects.filter(pk=run.pk).update(
        state=RunState.SKIPPED, reason=reason, finished_at=now
    )
    _audit(schedule_actor(run.schedule), "schedule.run.skipped", run.schedule, detail=reason,
           server_id=run.server_id, server_name=run.server_name)  # fmt: skip


def _start_run(run: ScheduleRun, *, now: datetime) -> int:
    schedule = run.schedule
    try:
        _fleet, summary = selectors.server_get(server_id=run.server_id, refresh=False)
    except selectors.NotFound:
        _skip(run, _("The server no longer exists at the provider."), now=now)
        return 0
    if summary.active_operations:
        return 0  # waits within the window (see _skip_overdue)
    decision = schedule_plan.run_decision(
        slots_of(summary), limit=summary.limit, schedule_id=schedule.id
    )
    if decision.action == "skip":
        _skip(run, decision.reason, now=now)
        return 0
    steps = []
    if decision.delete is not None:
        steps.append(workflows.StepPlan(StepAction.DELETE, snapshot_id=decision.delete.snapshot_id,
                                        snapshot_name=decision.delete.name))  # fmt: skip
    steps.append(_create_step(schedule, run, now=now))
    try:
        workflow = workflows.workflow_start(
            actor=schedule_actor(schedule), kind=WorkflowKind.ROTATION, server_id=run.server_id,
            server_name=run.server_name, steps=steps, schedule=schedule,
        )  # fmt: skip
    except workflows.WorkflowRunning:
        return 0  # another chain on the server: wait within the window
    ScheduleRun.objects.filter(pk=run.pk).update(state=RunState.RUNNING, workflow=workflow)
    return 1


def slots_of(summary: selectors.ServerSummary) -> list[schedule_plan.Slot]:
    records = {
        r.snapshot_id: r
        for r in SnapshotRecord.objects.filter(snapshot_id__in=[s.id for s in summary.snapshots])
    }
    return [
        schedule_plan.Slot(
            snapshot_id=s.id,
            name=s.name,
            created_at=s.created_at or timezone.now(),
            schedule_id=records[s.id].schedule_id if s.id in records else None,
            protected=s.id in records and records[s.id].protected,
        )
        for s in summary.snapshots
    ]


def _create_step(schedule: Schedule, run: ScheduleRun, *, now: datetime) -> workflows.StepPlan:
    description = schedule_plan.description_for(
        schedule.description_template,
        server=run.server_name,
        schedule=schedule.name,
        date=f"{run.due_at:%Y-%m-%d}",
    )
    return workflows.StepPlan(
        StepAction.CREATE,
        snapshot_name=schedule_plan.snapshot_name(schedule.name, run.due_at),
        description=description[:255],
        keep_until=now + timedelta(days=schedule.keep_days) if schedule.keep_days else None,
        origin=SnapshotOrigin.SCHEDULED,
    )


def schedule_runs_finish(*, now: datetime) -> int:
    """Close the runs whose workflow ended; after a success, apply the retention."""
    closed = 0
    running = ScheduleRun.objects.filter(state=RunState.RUNNING).select_related(
        "workflow", "schedule"
    )
    for run in running:
        workflow = run.workflow
        if workflow is None or workflow.is_running:
            continue
        server = {"server_id": run.server_id, "server_name": run.server_name}
        actor = schedule_actor(run.schedule)
        if workflow.state == WorkflowState.SUCCEEDED:
            ScheduleRun.objects.filter(pk=run.pk).update(state=RunState.SUCCEEDED, finished_at=now)
            Schedule.objects.filter(pk=run.schedule_id).update(last_success_at=now)
            _audit(actor, "schedule.run.done", run.schedule, detail=workflow.outcome, **server)
            _apply_retention(run, now=now)
        else:
            ScheduleRun.objects.filter(pk=run.pk).update(
                state=RunState.FAILED, reason=workflow.outcome, finished_at=now
            )
            _audit(actor, "schedule.run.failed", run.schedule, detail=workflow.outcome, **server)
        closed += 1
    return closed


def _apply_retention(run: ScheduleRun, *, now: datetime) -> None:
    schedule = run.schedule
    if not (schedule.keep_newest or schedule.keep_days):
        return
    try:
        _fleet, summary = selectors.server_get(server_id=run.server_id, refresh=False)
    except (selectors.NotFound, FleetUnavailable):
        return
    for slot in schedule_plan.retention_deletions(
        slots_of(summary), schedule_id=schedule.id, keep_newest=schedule.keep_newest,
        keep_days=schedule.keep_days, now=now,
    ):  # fmt: skip
        try:
            services.snapshot_delete(actor=schedule_actor(schedule), snapshot_id=slot.snapshot_id)
        except (refusals.ActionRefused, selectors.NotFound) as exc:
            logger.info("retention of %s kept %s: %s", schedule, slot.name, exc)


def stale(schedule: Schedule, *, now: datetime) -> bool:
    """The newest successful snapshot is older than twice the schedule's period."""
    if schedule.paused:
        return False
    since = schedule.last_success_at or schedule.created_at
    return now - since > 2 * schedule_plan.period(timetable_of(schedule), around=now)
