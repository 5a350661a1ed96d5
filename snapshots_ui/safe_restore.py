"""A restore you can undo: the server is snapshotted as it is (a safety snapshot, kept 7 days)
before it is restored, as one chained workflow (``workflows``): create → wait until that
snapshot is completed → restore. Nothing is restored without a completed safety snapshot
unless the person chose to go on without one.

At 5 of 5 there is no slot for the safety snapshot: the person may replace the oldest
snapshot that was going to go anyway (expiring, an earlier safety snapshot or a schedule's;
never a protected one) or restore without a safety snapshot — each an explicit choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from snapshots_ui import lifecycle, provider, refusals, selectors, services, workflows
from snapshots_ui.audit import Actor, audit_record
from snapshots_ui.models import (
    Operation,
    SnapshotOrigin,
    StepAction,
    StepState,
    Workflow,
    WorkflowKind,
    WorkflowState,
)
from snapshots_ui.statuses import snapshot_is_restorable

SAFETY_NAME_PREFIX = "safety-before-restore-"
SAFETY_KEEP_DAYS = 7


class SafetyChoice(models.TextChoices):
    TAKE = "take", gettext_lazy("Take a safety snapshot first")
    REPLACE = "replace", gettext_lazy("Replace the oldest disposable snapshot with it")
    SKIP = "skip", gettext_lazy("Restore without a safety snapshot")


def safety_snapshot_name(now: datetime | None = None) -> str:
    """``safety-before-restore-20261128-1405`` (UTC), within the provider's naming rule."""
    return f"{SAFETY_NAME_PREFIX}{(now or timezone.now()):%Y%m%d-%H%M}"


@dataclass(frozen=True)
class RestorePlan:
    """What a restore of ``snapshot`` would do, as the restore page shows it."""

    fleet: selectors.FleetView
    summary: selectors.ServerSummary
    snapshot: provider.Snapshot
    safety_name: str
    # At 5 of 5: the snapshot the safety snapshot could replace (None: none may go).
    replaceable: lifecycle.Replaceable | None

    @property
    def slot_free(self) -> bool:
        return not self.summary.at_limit

    @property
    def choices(self) -> list[SafetyChoice]:
        if self.slot_free:
            return [SafetyChoice.TAKE, SafetyChoice.SKIP]
        if self.replaceable is not None:
            return [SafetyChoice.REPLACE, SafetyChoice.SKIP]
        return [SafetyChoice.SKIP]

    @property
    def default_choice(self) -> SafetyChoice | None:
        """On by default when a slot is free; at 5 of 5 the person must choose."""
        return SafetyChoice.TAKE if self.slot_free else None

    @property
    def create_window(self) -> tuple[int, int]:
        return settings.VPS_CREATE_EXPECTED_SECONDS

    @property
    def restore_window(self) -> tuple[int, int]:
        return settings.VPS_RESTORE_EXPECTED_SECONDS

    def expected_seconds(self, choice: SafetyChoice | None) -> tuple[int, int]:
        """The provider's windows added up for the steps ``choice`` takes."""
        low, high = settings.VPS_RESTORE_EXPECTED_SECONDS
        if choice in (SafetyChoice.TAKE, SafetyChoice.REPLACE):
            low += settings.VPS_CREATE_EXPECTED_SECONDS[0]
            high += settings.VPS_CREATE_EXPECTED_SECONDS[1]
        if choice == SafetyChoice.REPLACE:
            low += settings.VPS_DELETE_EXPECTED_SECONDS[0]
            high += settings.VPS_DELETE_EXPECTED_SECONDS[1]
        return low, high


def restore_plan(*, snapshot_id: int) -> RestorePlan:
    """Raises ``NotFound`` / ``FleetUnavailable`` like ``selectors.snapshot_get``."""
    fleet, summary, snapshot = selectors.snapshot_get(snapshot_id=snapshot_id, refresh=False)
    return RestorePlan(
        fleet=fleet,
        summary=summary,
        snapshot=snapshot,
        safety_name=safety_snapshot_name(),
        replaceable=(
            lifecycle.oldest_replaceable(summary, only_disposable=True)
            if summary.at_limit
            else None
        ),
    )


def restore_start(
    *,
    actor: Actor,
    snapshot_id: int,
    choice: SafetyChoice,
    replace_snapshot_id: int | None = None,
) -> Workflow | Operation:
    """Start a restore as ``choice`` says: a workflow with a safety snapshot first, or (when
    the person chose so) the plain restore. Everything that would make the restore step fail
    is refused now, before a safety snapshot is taken for nothing."""
    plan = restore_plan(snapshot_id=snapshot_id)
    server = plan.summary.server
    _refuse_early(plan)
    if choice == SafetyChoice.SKIP:
        operation = services.snapshot_restore(actor=actor, snapshot_id=snapshot_id)
        audit_record(
            actor=actor,
            action="restore.safety.skipped",
            operation=operation,
            detail=_("Restored without a safety snapshot, as chosen."),
        )
        return operation
    return workflows.workflow_start(
        actor=actor,
        kind=WorkflowKind.SAFE_RESTORE,
        server_id=server.id,
        server_name=server.name,
        steps=_steps(plan, choice, replace_snapshot_id),
    )


def _steps(
    plan: RestorePlan, choice: SafetyChoice, replace_snapshot_id: int | None
) -> list[workflows.StepPlan]:
    """[delete the one replaced,] take the safety snapshot, restore."""
    steps = [_safety_step(plan)]
    if choice == SafetyChoice.REPLACE:
        doomed = _replacement_confirmed(plan, replace_snapshot_id)
        steps.insert(
            0,
            workflows.StepPlan(StepAction.DELETE, snapshot_id=doomed.id, snapshot_name=doomed.name),
        )
    elif not plan.slot_free:
        raise refusals.SnapshotLimitReached(
            _(
                "%(server)s now has %(limit)d of %(limit)d snapshots: there is no slot for a "
                "safety snapshot. Choose again."
            )
            % {"server": plan.summary.server.name, "limit": settings.VPS_SNAPSHOTS_PER_SERVER}
        )
    steps.append(
        workflows.StepPlan(
            StepAction.RESTORE, snapshot_id=plan.snapshot.id, snapshot_name=plan.snapshot.name
        )
    )
    return steps


def _refuse_early(plan: RestorePlan) -> None:
    server = plan.summary.server
    running = Workflow.objects.filter(server_id=server.id, state=WorkflowState.RUNNING).first()
    if running is not None:
        raise workflows.WorkflowRunning(workflows.running_sentence(running), workflow=running)
    if not snapshot_is_restorable(plan.snapshot.status):
        raise refusals.NotRestorable(_("Only a completed snapshot can be restored."))
    if selectors.operations_active_for_server(server_id=server.id).exists():
        raise services.restore_busy(server.name)


def _safety_step(plan: RestorePlan) -> workflows.StepPlan:
    return workflows.StepPlan(
        StepAction.CREATE,
        snapshot_name=plan.safety_name,
        description=_("%(server)s as it was before the restore from “%(snapshot)s”")
        % {"server": plan.summary.server.name, "snapshot": plan.snapshot.name},
        keep_until=timezone.now() + timedelta(days=SAFETY_KEEP_DAYS),
        origin=SnapshotOrigin.SAFETY,
    )


def _replacement_confirmed(plan: RestorePlan, replace_snapshot_id: int | None) -> provider.Snapshot:
    """The snapshot the person saw named, only while it still is the one to replace."""
    if plan.replaceable is None:
        raise refusals.ActionRefused(
            _(
                "No snapshot of this server may be replaced (each is protected or kept by "
                "hand). Restore without a safety snapshot, or free a slot first."
            )
        )
    if plan.replaceable.snapshot.id != replace_snapshot_id:
        raise refusals.ActionRefused(
            _(
                "The snapshot to replace is now “%(name)s”, not the one shown when the page "
                "was opened. Check it, then confirm again."
            )
            % {"name": plan.replaceable.snapshot.name}
        )
    return plan.replaceable.snapshot


# --- Undo -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UndoOffer:
    """A restore that can be undone: its safety snapshot is still there and completed."""

    workflow: Workflow
    safety_snapshot: provider.Snapshot
    restored_from: str

    @property
    def restored_at(self) -> datetime:
        return self.workflow.finished_at or self.workflow.started_at


def undo_offer(summary: selectors.ServerSummary) -> UndoOffer | None:
    """The latest restore with a safety snapshot on this server, while that snapshot exists."""
    latest = (
        Workflow.objects.filter(
            server_id=summary.server.id,
            kind=WorkflowKind.SAFE_RESTORE,
            state=WorkflowState.SUCCEEDED,
        )
        .prefetch_related("steps")
        .first()
    )
    if latest is None:
        return None
    steps = {step.action: step for step in latest.steps.all() if step.state == StepState.DONE}
    safety, restore = steps.get(StepAction.CREATE), steps.get(StepAction.RESTORE)
    if safety is None or restore is None or safety.snapshot_id is None:
        return None
    found = next((s for s in summary.snapshots if s.id == safety.snapshot_id), None)
    if found is None or not snapshot_is_restorable(found.status):
        return None
    return UndoOffer(workflow=latest, safety_snapshot=found, restored_from=restore.snapshot_name)


def undoes(snapshot_id: int) -> Workflow | None:
    """The restore that restoring ``snapshot_id`` would undo (it is that restore's safety
    snapshot), for the restore page's heading."""
    return (
        Workflow.objects.filter(
            kind=WorkflowKind.SAFE_RESTORE,
            state=WorkflowState.SUCCEEDED,
            steps__action=StepAction.CREATE,
            steps__snapshot_id=snapshot_id,
        )
        .order_by("-started_at")
        .first()
    )
