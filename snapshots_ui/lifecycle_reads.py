"""Reads for the lifecycle: what each of a server's five slots holds, the snapshots' records,
the schedules' state (skipped, stale, next run), and the warnings shown ahead of time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone

from snapshots_ui import schedule_plan
from snapshots_ui.models import (
    RunState,
    Schedule,
    ScheduleRun,
    SnapshotOrigin,
    SnapshotRecord,
    Workflow,
    WorkflowState,
)
from snapshots_ui.selectors import ServerSummary


def records_for(summary: ServerSummary) -> dict[int, SnapshotRecord]:
    ids = [s.id for s in summary.snapshots]
    return {r.snapshot_id: r for r in SnapshotRecord.objects.filter(snapshot_id__in=ids)}


@dataclass(frozen=True)
class SlotView:
    kind: str  # protected, scheduled, safety, expiring, manual or free
    label: str


def slots(summary: ServerSummary, records: dict[int, SnapshotRecord]) -> list[SlotView]:
    """The server's slots, filled ones first, each named by what holds it."""
    filled = []
    for snapshot in summary.snapshots:
        record = records.get(snapshot.id)
        if record is not None and record.protected:
            kind = "protected"
        elif record is not None and record.origin != SnapshotOrigin.MANUAL:
            kind = record.origin
        elif record is not None and record.keep_until is not None:
            kind = "expiring"
        else:
            kind = "manual"
        filled.append(SlotView(kind=kind, label=snapshot.name))
    free = [SlotView(kind="free", label="") for _ in range(max(0, summary.limit - len(filled)))]
    return filled + free


def slot_legend(slot_views: list[SlotView]) -> list[tuple[str, int]]:
    """How many slots of each kind, in the order the kinds first appear."""
    counts: dict[str, int] = {}
    for slot in slot_views:
        counts[slot.kind] = counts.get(slot.kind, 0) + 1
    return list(counts.items())


def protected_gone(server_id: int) -> list[SnapshotRecord]:
    """Protected snapshots the provider no longer lists."""
    return list(
        SnapshotRecord.objects.filter(server_id=server_id, protected=True, gone_at__isnull=False)
    )


def running_workflows(server_id: int) -> list[Workflow]:
    return list(
        Workflow.objects.filter(server_id=server_id, state=WorkflowState.RUNNING).prefetch_related(
            "steps__operation"
        )
    )


def recent_workflows(server_id: int) -> list[Workflow]:
    """The workflows a server page shows: those running, and those that ended in the last
    ``VPS_WORKFLOW_SHOWN_SECONDS`` (so a chain that stopped still says why)."""
    since = timezone.now() - timedelta(seconds=settings.VPS_WORKFLOW_SHOWN_SECONDS)
    return list(
        Workflow.objects.filter(server_id=server_id)
        .filter(Q(state=WorkflowState.RUNNING) | Q(finished_at__gte=since))
        .prefetch_related("steps__operation")[:3]
    )


def skipped_runs(*, server_ids: list[int] | None = None) -> dict[int, list[ScheduleRun]]:
    """Per server, each schedule's latest run when it was skipped and nothing succeeded since:
    shown in red until a run succeeds."""
    latest = ScheduleRun.objects.exclude(state=RunState.PENDING)
    if server_ids is not None:
        latest = latest.filter(server_id__in=server_ids)
    newest = latest.values("schedule_id", "server_id").annotate(due=Max("due_at"))
    condition = Q()
    for row in newest:
        condition |= Q(
            schedule_id=row["schedule_id"], server_id=row["server_id"], due_at=row["due"]
        )
    if not newest:
        return {}
    found: dict[int, list[ScheduleRun]] = {}
    for run in ScheduleRun.objects.filter(condition, state=RunState.SKIPPED).select_related(
        "schedule"
    ):
        found.setdefault(run.server_id, []).append(run)
    return found


@dataclass(frozen=True)
class SkipAhead:
    schedule: Schedule
    at: datetime
    reason: str


def skips_ahead(
    summary: ServerSummary,
    records: dict[int, SnapshotRecord],
    active: list[Schedule] | None = None,
) -> list[SkipAhead]:
    """Schedules whose next run on this server will be skipped as things stand, and why
    (``active``: the unpaused schedules, when the caller has read them already)."""
    slots_now = [
        schedule_plan.Slot(
            snapshot_id=s.id,
            name=s.name,
            created_at=s.created_at or timezone.now(),
            schedule_id=records[s.id].schedule_id if s.id in records else None,
            protected=s.id in records and records[s.id].protected,
        )
        for s in summary.snapshots
    ]
    warnings = []
    for schedule in schedules_covering(summary.server.id, summary.server.name, active):
        if schedule.next_run_at is None:
            continue
        decision = schedule_plan.run_decision(
            slots_now, limit=summary.limit, schedule_id=schedule.id
        )
        if decision.action == "skip":
            warnings.append(SkipAhead(schedule, schedule.next_run_at, decision.reason))
    return warnings


def schedules_covering(
    server_id: int, server_name: str, active: list[Schedule] | None = None
) -> list[Schedule]:
    """Unpaused schedules that take this server."""
    found = []
    for schedule in active if active is not None else Schedule.objects.filter(paused=False):
        if schedule.server_id == server_id or (
            schedule.server_pattern
            and schedule_plan.server_matches(schedule.server_pattern, server_name)
        ):
            found.append(schedule)
    return found


def annotate_rows(summaries: list[ServerSummary]) -> None:
    """For the fleet table: each server's slots and its lifecycle notices (a skipped run in
    red, a run that will be skipped as things stand), with a few queries for the whole page."""
    ids = [s.id for summary in summaries for s in summary.snapshots]
    records = {r.snapshot_id: r for r in SnapshotRecord.objects.filter(snapshot_id__in=ids)}
    skipped = skipped_runs(server_ids=[summary.server.id for summary in summaries])
    active = list(Schedule.objects.filter(paused=False))
    for summary in summaries:
        summary.slot_views = list(slots(summary, records))
        summary.notices = list(skipped.get(summary.server.id, []))
        if summary.at_limit and active:
            summary.notices += skips_ahead(summary, records, active)


def lifecycle_version() -> str:
    """Changes whenever what the fleet table shows of the lifecycle changes (one query)."""
    runs = ScheduleRun._meta.db_table
    records = SnapshotRecord._meta.db_table
    schedules = Schedule._meta.db_table
    parts = [
        (runs, "MAX(id)"), (runs, "MAX(finished_at)"),
        (records, "COUNT(*)"), (records, "MAX(changed_at)"),
        (schedules, "COUNT(*)"), (schedules, "MAX(changed_at)"), (schedules, "MAX(next_run_at)"),
    ]  # fmt: skip
    # Table names and expressions from the code above only: nothing from a request.
    subqueries = [f"(SELECT {expression} FROM {table})" for table, expression in parts]  # noqa: S608
    sql = "SELECT " + ", ".join(subqueries)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return "|".join(str(value) for value in cursor.fetchone())
