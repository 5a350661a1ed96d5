"""The chained-workflow engine: operations that must happen in order, as one recorded unit.

A workflow is a list of steps (take a snapshot, delete one, restore the server), each carried
out through the same services as a person's click, each an operation in the audit trail
linked to one workflow. The state is in the database: ``workflow_advance`` looks at where a
workflow stands and moves it on, so it is safe to call any number of times, from anywhere —
right after starting it, when one of its operations ends (the poller queues it), and from the
periodic resume that picks up workflows a killed worker or a restarted Redis left behind.

- A step starts only once the one before it is done. A step whose operation fails stops the
  workflow; the steps after it are cancelled, never started.
- A step refused because something else runs on the server waits and is tried again, up to
  ``VPS_WORKFLOW_WAIT_SECONDS``, then the workflow fails and says why.
- A stuck operation holds the workflow: nothing after it starts until it ends.
- A person may cancel a workflow; steps already running finish, the others never start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from snapshots_ui import refusals, selectors, services
from snapshots_ui.audit import Actor, audit_record
from snapshots_ui.models import (
    Operation,
    Schedule,
    StepAction,
    StepState,
    Workflow,
    WorkflowKind,
    WorkflowState,
    WorkflowStep,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepPlan:
    action: StepAction
    snapshot_id: int | None = None
    snapshot_name: str = ""
    description: str = ""
    keep_until: datetime | None = None
    origin: str = ""


class WorkflowRunning(refusals.ActionRefused):
    """Another workflow is already running on the server; ``workflow`` is that one."""

    def __init__(self, message: str, *, workflow: Workflow) -> None:
        super().__init__(message)
        self.workflow = workflow


def workflow_start(
    *,
    actor: Actor,
    kind: WorkflowKind,
    server_id: int,
    server_name: str,
    steps: list[StepPlan],
    schedule: Schedule | None = None,
) -> Workflow:
    """Record a workflow and start its first step. Raises ``WorkflowRunning`` when one is
    already running on the server, naming who started it."""
    try:
        with transaction.atomic():
            workflow = Workflow.objects.create(
                kind=kind,
                server_id=server_id,
                server_name=server_name,
                started_by=actor.user if actor.user is not None and actor.user.pk else None,
                started_by_name=actor.name,
                started_from_ip=actor.ip,
                schedule=schedule,
            )
            WorkflowStep.objects.bulk_create(
                WorkflowStep(workflow=workflow, position=n, **plan.__dict__)
                for n, plan in enumerate(steps, start=1)
            )
            _audit(workflow, actor=actor, action="workflow.started", detail=_plan_text(steps))
    except IntegrityError as exc:
        running = Workflow.objects.filter(server_id=server_id, state=WorkflowState.RUNNING).first()
        if running is None:
            raise
        raise WorkflowRunning(running_sentence(running), workflow=running) from exc
    return workflow_advance(workflow.pk)


def running_sentence(running: Workflow) -> str:
    """Who started the workflow running on a server, for the person refused a second one."""
    return _(
        "%(who)s started “%(what)s” on %(server)s at %(when)s; it is still running. Wait "
        "until it has finished."
    ) % {
        "who": running.started_by_name,
        "what": running.get_kind_display(),
        "server": running.server_name,
        "when": timezone.localtime(running.started_at).strftime("%H:%M"),
    }


def workflow_cancel(*, actor: Actor, workflow: Workflow) -> Workflow:
    """Stop a workflow before its next step starts; a step already running finishes."""
    if not workflow.is_running:
        raise refusals.OperationNotOpen(_("This workflow has already ended."))
    Workflow.objects.filter(pk=workflow.pk, cancel_requested_at__isnull=True).update(
        cancel_requested_at=timezone.now()
    )
    _audit(workflow, actor=actor, action="workflow.cancel.requested")
    return workflow_advance(workflow.pk)


@contextmanager
def _advancing(workflow_id: int) -> Iterator[bool]:
    """One advance of a workflow at a time, across processes."""
    key = f"workflow-advance:{workflow_id}"
    locked = cache.add(key, True, timeout=settings.VPS_API_TIMEOUT[1] * 3 + 30)
    try:
        yield locked
    finally:
        if locked:
            cache.delete(key)


def workflow_advance(workflow_id: int) -> Workflow:
    """Move the workflow on as far as it can go now; returns it as it then stands."""
    with _advancing(workflow_id) as locked:
        workflow = Workflow.objects.get(pk=workflow_id)
        if locked:
            while workflow.is_running and _advance_one(workflow):
                workflow.refresh_from_db()
        workflow.refresh_from_db()
        return workflow


def workflows_resume() -> int:
    """Advance every running workflow (the periodic pick-up); returns how many there were."""
    running = list(
        Workflow.objects.filter(state=WorkflowState.RUNNING).values_list("pk", flat=True)
    )
    for workflow_id in running:
        try:
            workflow_advance(workflow_id)
        except Exception:
            logger.exception("advancing workflow %s failed", workflow_id)
    return len(running)


def _advance_one(workflow: Workflow) -> bool:
    """Take one step of the workflow; True when another step may follow at once."""
    step = workflow.steps.exclude(state__in=[StepState.DONE, StepState.CANCELLED]).first()
    if step is None:
        _finish(workflow, WorkflowState.SUCCEEDED, _done_sentence(workflow))
        return False
    if step.state == StepState.FAILED:
        _finish(workflow, WorkflowState.FAILED, step.error)
        return False
    if step.state == StepState.WAITING:
        if workflow.cancel_requested_at is not None:
            _cancel_from(workflow, step)
            return False
        return _start(workflow, step)
    return _follow(workflow, step)


def _start(workflow: Workflow, step: WorkflowStep) -> bool:
    actor = Actor(
        user=workflow.started_by,
        ip=workflow.started_from_ip,
        label=workflow.started_by_name or "system",
    )
    try:
        operation = _carry_out(workflow, step, actor)
    except (refusals.ServerBusy, refusals.AlreadyRunning) as busy:
        waited = timezone.now() - (step.started_at or timezone.now())
        if step.started_at is None:
            WorkflowStep.objects.filter(pk=step.pk).update(started_at=timezone.now())
        if waited > timedelta(seconds=settings.VPS_WORKFLOW_WAIT_SECONDS):
            _fail_step(workflow, step, busy.message)
            return True
        return False  # tried again at the next advance
    except selectors.NotFound as gone:
        if step.action == StepAction.DELETE:  # nothing left to delete: the slot is free
            _step_done(step, operation=None)
            return True
        _fail_step(workflow, step, gone.message)
        return True
    except refusals.ActionRefused as refused:
        _fail_step(workflow, step, refused.message)
        return True
    WorkflowStep.objects.filter(pk=step.pk).update(
        operation=operation, state=StepState.RUNNING, started_at=step.started_at or timezone.now()
    )
    step.refresh_from_db()
    return _follow(workflow, step)


def _carry_out(workflow: Workflow, step: WorkflowStep, actor: Actor) -> Operation:
    if step.action == StepAction.CREATE:
        return services.snapshot_create(
            actor=actor,
            server_id=workflow.server_id,
            name=step.snapshot_name,
            description=step.description,
            keep_until=step.keep_until,
            origin=step.origin,
            schedule=workflow.schedule,
        )
    assert step.snapshot_id is not None
    if step.action == StepAction.DELETE:
        return services.snapshot_delete(actor=actor, snapshot_id=step.snapshot_id).operation
    return services.snapshot_restore(actor=actor, snapshot_id=step.snapshot_id)


def _follow(workflow: Workflow, step: WorkflowStep) -> bool:
    operation = step.operation
    if operation is not None and operation.is_stuck and _restore_follows(workflow, step):
        _fail_step(workflow, step, _stuck_sentence(operation))
        return True
    if operation is None or operation.is_active:
        return False  # the poller tells the engine when it ends
    if operation.is_failed:
        _fail_step(workflow, step, operation.error or operation.outcome_sentence())
        return True
    _step_done(step, operation=operation)
    return True


def _restore_follows(workflow: Workflow, step: WorkflowStep) -> bool:
    """A server is never restored after a snapshot that did not complete in time: the
    safety snapshot that was to make the restore undoable."""
    return workflow.steps.filter(position__gt=step.position, action=StepAction.RESTORE).exists()


def _stuck_sentence(operation: Operation) -> str:
    return _(
        "“%(name)s” has not completed within the provider's %(minutes)d minutes, so %(server)s "
        "was not restored. Check the snapshot at the provider, then start the restore again."
    ) % {
        "name": operation.snapshot_name,
        "minutes": operation.expected_seconds[1] // 60,
        "server": operation.server_name,
    }


def _step_done(step: WorkflowStep, *, operation: Operation | None) -> None:
    fields = {"state": StepState.DONE, "finished_at": timezone.now()}
    if operation is not None and operation.snapshot_id is not None:
        fields["snapshot_id"] = operation.snapshot_id
    WorkflowStep.objects.filter(pk=step.pk).update(**fields)


def _fail_step(workflow: Workflow, step: WorkflowStep, error: str) -> None:
    WorkflowStep.objects.filter(pk=step.pk).update(
        state=StepState.FAILED, error=error, finished_at=timezone.now()
    )
    workflow.steps.filter(state=StepState.WAITING).update(state=StepState.CANCELLED)


def _cancel_from(workflow: Workflow, step: WorkflowStep) -> None:
    workflow.steps.filter(state=StepState.WAITING).update(state=StepState.CANCELLED)
    _finish(
        workflow,
        WorkflowState.CANCELLED,
        _("Cancelled before “%(step)s” started; nothing after it was done.")
        % {"step": step.get_action_display()},
    )


def _finish(workflow: Workflow, state: WorkflowState, outcome: str) -> None:
    updated = Workflow.objects.filter(pk=workflow.pk, state=WorkflowState.RUNNING).update(
        state=state, outcome=outcome, finished_at=timezone.now()
    )
    if updated:
        workflow.refresh_from_db()
        _audit(
            workflow, actor=Actor(user=None, ip=None), action=f"workflow.{state}", detail=outcome
        )


def _audit(workflow: Workflow, *, actor: Actor, action: str, detail: str = "") -> None:
    audit_record(
        actor=actor,
        action=action,
        subject=f"{workflow.get_kind_display()} #{workflow.pk}",
        detail=detail,
        server_id=workflow.server_id,
        server_name=workflow.server_name,
    )


def _plan_text(steps: list[StepPlan]) -> str:
    return "; ".join(
        f"{n}. {StepAction(step.action).label} {step.snapshot_name}".strip()
        for n, step in enumerate(steps, start=1)
    )


def _done_sentence(workflow: Workflow) -> str:
    return _("Every step of “%(what)s” on %(server)s is done.") % {
        "what": workflow.get_kind_display(),
        "server": workflow.server_name,
    }
