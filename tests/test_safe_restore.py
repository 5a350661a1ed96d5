"""A restore you can undo, against the simulator over real HTTP: the plan, the chain
create → completed → restore, every way it stops before the restore, 5 of 5, one chain per
server, and the undo.

No worker runs here: the tests poll and advance in-process, as the worker would (the stack
tests in test_safe_restore_stack.py do it with a real worker)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from snapshots_ui import polling, refusals, safe_restore, selectors, workflows
from snapshots_ui.audit import Actor
from snapshots_ui.models import (
    AuditEvent,
    Operation,
    SnapshotOrigin,
    SnapshotRecord,
    StepAction,
    StepState,
    WorkflowState,
)
from snapshots_ui.safe_restore import SafetyChoice
from snapshots_ui.statuses import OperationState
from tests.views.helpers import CREATE_CALL, NEWEST, REPLICA, RESTORE_CALL, WEB, provider_calls


@pytest.fixture
def actor(operator) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=operator, ip="198.51.100.14")


def safety_of(workflow) -> SimSnapshot:  # type: ignore[no-untyped-def]
    step = workflow.steps.get(action=StepAction.CREATE)
    return SimSnapshot.objects.get(server_id=workflow.server_id, name=step.snapshot_name)


def complete_and_advance(workflow):  # type: ignore[no-untyped-def]
    """What the worker does once the provider has finished: poll, then move the chain on."""
    polling.operations_poll_server(server_id=workflow.server_id)
    return workflows.workflow_advance(workflow.pk)


def test_the_plan_takes_a_safety_snapshot_by_default_and_adds_up_the_windows(
    seeded_simulator,
) -> None:
    plan = safe_restore.restore_plan(snapshot_id=NEWEST)

    assert plan.default_choice == SafetyChoice.TAKE
    assert plan.choices == [SafetyChoice.TAKE, SafetyChoice.SKIP]
    assert plan.safety_name.startswith("safety-before-restore-")
    assert plan.expected_seconds(SafetyChoice.TAKE) == (8 * 60, 25 * 60)
    assert plan.expected_seconds(SafetyChoice.SKIP) == (5 * 60, 15 * 60)


def test_the_chain_snapshots_first_and_restores_only_once_that_is_completed(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    settings.VPS_SIM_RESTORE_SECONDS = 0

    workflow = safe_restore.restore_start(actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.TAKE)
    assert [s.state for s in workflow.steps.all()] == [StepState.RUNNING, StepState.WAITING]
    assert provider_calls(RESTORE_CALL) == 0
    polling.operations_poll_server(server_id=WEB)
    assert workflows.workflow_advance(workflow.pk).steps.last().state == StepState.WAITING

    safety = safety_of(workflow)
    SimSnapshot.objects.filter(pk=safety.pk).update(status="completed")
    workflow = complete_and_advance(workflow)
    assert provider_calls(RESTORE_CALL) == 1
    workflow = complete_and_advance(workflow)

    assert workflow.state == WorkflowState.SUCCEEDED
    record = SnapshotRecord.objects.get(snapshot_id=safety.pk)
    assert record.origin == SnapshotOrigin.SAFETY
    assert timedelta(days=6, hours=23) < record.keep_until - timezone.now() <= timedelta(days=7)
    operations = Operation.objects.filter(workflow_step__workflow=workflow).order_by("pk")
    assert [(op.kind, op.state) for op in operations] == [
        ("create", OperationState.SUCCEEDED),
        ("restore", OperationState.SUCCEEDED),
    ]
    assert {e.action for e in AuditEvent.objects.filter(server_id=WEB)} >= {
        "workflow.started", "snapshot.create.started", "server.restore.started",
        "workflow.succeeded",
    }  # fmt: skip


def test_the_undo_is_offered_while_the_safety_snapshot_exists(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    settings.VPS_SIM_RESTORE_SECONDS = 0
    workflow = safe_restore.restore_start(actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.TAKE)
    workflow = complete_and_advance(complete_and_advance(workflow))
    assert workflow.state == WorkflowState.SUCCEEDED
    safety = safety_of(workflow)

    _fleet, summary = selectors.server_get(server_id=WEB)
    offer = safe_restore.undo_offer(summary)
    assert offer is not None
    assert offer.safety_snapshot.id == safety.pk
    assert offer.restored_from == SimSnapshot.objects.get(pk=NEWEST).name
    assert safe_restore.undoes(safety.pk) == workflow

    without_it = [s for s in summary.snapshots if s.id != safety.pk]
    gone = selectors.ServerSummary(server=summary.server, snapshots=without_it)
    assert safe_restore.undo_offer(gone) is None


def test_a_safety_snapshot_the_provider_refuses_stops_the_chain_before_the_restore(
    seeded_simulator, actor, queued_polls
) -> None:
    controls.add_fault(method="POST", path_contains="/snapshots/", status=400,
                       message="Disk is being resized.", times=1)  # fmt: skip

    workflow = safe_restore.restore_start(actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.TAKE)

    assert workflow.state == WorkflowState.FAILED
    assert "Disk is being resized." in workflow.outcome
    assert [s.state for s in workflow.steps.all()] == [StepState.FAILED, StepState.CANCELLED]
    assert provider_calls(RESTORE_CALL) == 0


def test_a_safety_snapshot_that_fails_at_the_provider_stops_the_chain(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    workflow = safe_restore.restore_start(actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.TAKE)
    SimSnapshot.objects.filter(pk=safety_of(workflow).pk).update(status="failed")

    workflow = complete_and_advance(workflow)

    assert workflow.state == WorkflowState.FAILED
    assert provider_calls(RESTORE_CALL) == 0
    assert SimServer.objects.get(pk=WEB).status == "running"


def test_a_stuck_safety_snapshot_stops_the_chain_and_says_so(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    workflow = safe_restore.restore_start(actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.TAKE)
    Operation.objects.filter(workflow_step__workflow=workflow).update(state=OperationState.STUCK)

    workflow = workflows.workflow_advance(workflow.pk)

    assert workflow.state == WorkflowState.FAILED
    assert "has not completed within the provider's 10 minutes" in workflow.outcome
    assert "was not restored" in workflow.outcome
    assert provider_calls(RESTORE_CALL) == 0


def test_a_restore_refused_after_the_safety_snapshot_stops_with_the_providers_words(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    workflow = safe_restore.restore_start(actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.TAKE)
    controls.add_fault(path_contains="/restore/", status=409,
                       message="Server is locked by a support ticket.", times=1)  # fmt: skip

    workflow = complete_and_advance(workflow)

    assert workflow.state == WorkflowState.FAILED
    assert "Server is locked by a support ticket." in workflow.outcome
    assert SimSnapshot.objects.get(pk=safety_of(workflow).pk).status == "completed"


def test_the_snapshot_to_restore_gone_meanwhile_stops_the_chain(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    workflow = safe_restore.restore_start(actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.TAKE)
    SimSnapshot.objects.filter(pk=safety_of(workflow).pk).update(status="completed")
    SimSnapshot.objects.filter(pk=NEWEST).delete()

    workflow = complete_and_advance(workflow)

    assert workflow.state == WorkflowState.FAILED
    assert str(NEWEST) in workflow.outcome or "no longer" in workflow.outcome
    assert provider_calls(RESTORE_CALL) == 0


def test_at_five_of_five_nothing_disposable_leaves_only_an_explicit_restore_without(
    seeded_simulator, actor, queued_polls
) -> None:
    newest = SimSnapshot.objects.filter(server_id=REPLICA).order_by("-created_at").first()
    plan = safe_restore.restore_plan(snapshot_id=newest.pk)

    assert plan.choices == [SafetyChoice.SKIP]
    assert plan.default_choice is None
    with pytest.raises(refusals.SnapshotLimitReached, match="no slot for a safety snapshot"):
        safe_restore.restore_start(actor=actor, snapshot_id=newest.pk, choice=SafetyChoice.TAKE)
    with pytest.raises(refusals.ActionRefused, match="No snapshot of this server may be"):
        safe_restore.restore_start(
            actor=actor, snapshot_id=newest.pk, choice=SafetyChoice.REPLACE,
            replace_snapshot_id=newest.pk,
        )  # fmt: skip
    assert provider_calls(CREATE_CALL) == 0


def test_at_five_of_five_the_oldest_disposable_is_replaced_only_as_named(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    by_age = list(SimSnapshot.objects.filter(server_id=REPLICA).order_by("created_at", "id"))
    for scheduled in by_age[1:3]:
        SnapshotRecord.objects.create(
            snapshot_id=scheduled.pk, server_id=REPLICA, name=scheduled.name,
            origin=SnapshotOrigin.SCHEDULED,
        )  # fmt: skip
    plan = safe_restore.restore_plan(snapshot_id=by_age[-1].pk)
    assert plan.replaceable.snapshot.id == by_age[1].pk  # the oldest is kept by hand
    assert plan.choices == [SafetyChoice.REPLACE, SafetyChoice.SKIP]

    with pytest.raises(refusals.ActionRefused, match="not the one shown"):
        safe_restore.restore_start(
            actor=actor, snapshot_id=by_age[-1].pk, choice=SafetyChoice.REPLACE,
            replace_snapshot_id=by_age[2].pk,
        )  # fmt: skip
    workflow = safe_restore.restore_start(
        actor=actor, snapshot_id=by_age[-1].pk, choice=SafetyChoice.REPLACE,
        replace_snapshot_id=by_age[1].pk,
    )  # fmt: skip

    assert [s.action for s in workflow.steps.all()] == [
        StepAction.DELETE, StepAction.CREATE, StepAction.RESTORE,
    ]  # fmt: skip
    assert not SimSnapshot.objects.filter(pk=by_age[1].pk).exists()
    assert SimSnapshot.objects.filter(pk=by_age[0].pk).exists()


def test_restoring_without_a_safety_snapshot_is_a_plain_restore_recorded_as_chosen(
    seeded_simulator, actor, queued_polls
) -> None:
    operation = safe_restore.restore_start(
        actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.SKIP
    )

    assert isinstance(operation, Operation)
    assert provider_calls(CREATE_CALL) == 0
    assert provider_calls(RESTORE_CALL) == 1
    event = AuditEvent.objects.get(action="restore.safety.skipped")
    assert event.actor_name == "omar"
    assert event.detail == "Restored without a safety snapshot, as chosen."


@pytest.mark.parametrize("second_choice", [SafetyChoice.TAKE, SafetyChoice.SKIP])
def test_a_second_person_is_told_who_started_the_restore(
    seeded_simulator, actor, admin_user, queued_polls, settings, second_choice
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    safe_restore.restore_start(actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.TAKE)

    with pytest.raises(workflows.WorkflowRunning, match="omar started “Restore with a safety"):
        safe_restore.restore_start(
            actor=Actor(user=admin_user, ip=None), snapshot_id=NEWEST, choice=second_choice
        )
    assert provider_calls(CREATE_CALL) == 1
    assert provider_calls(RESTORE_CALL) == 0


def test_a_safety_snapshot_whose_request_never_arrived_stops_the_chain(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_RECONCILE_GRACE_SECONDS = 0
    controls.add_fault(method="POST", path_contains="/snapshots/", status=503, times=1)

    workflow = safe_restore.restore_start(actor=actor, snapshot_id=NEWEST, choice=SafetyChoice.TAKE)
    create = workflow.steps.get(action=StepAction.CREATE).operation
    assert create.needs_reconcile  # unconfirmed: the dashboard looks for it, never sends it again
    workflow = complete_and_advance(workflow)

    assert workflow.state == WorkflowState.FAILED
    assert provider_calls(CREATE_CALL) == 1
    assert provider_calls(RESTORE_CALL) == 0
    assert SimServer.objects.get(pk=WEB).status == "running"
