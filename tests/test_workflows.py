"""The chained-workflow engine against the simulator over real HTTP: steps in order, a failed
step stops the rest, cancelling, one chain per server, waiting for a busy server.

No worker runs here: the tests move time on by polling and advancing in-process, as the
worker would."""

from __future__ import annotations

import pytest
from django.utils import timezone

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from snapshots_ui import lifecycle, polling, services, workflows
from snapshots_ui.audit import Actor
from snapshots_ui.models import (
    AuditEvent,
    Operation,
    StepAction,
    StepState,
    WorkflowKind,
    WorkflowState,
)
from snapshots_ui.statuses import OperationState

FULL = 12351  # db-replica: 5 of 5
WEB = 12345


@pytest.fixture
def actor(operator) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=operator, ip="198.51.100.9")


def posts(endpoint: str = "POST /api/v1/snapshots/") -> int:
    return controls.call_counts()["by_endpoint"].get(endpoint, 0)


def oldest_of(server_id: int) -> SimSnapshot:
    return SimSnapshot.objects.filter(server_id=server_id).order_by("created_at", "id").first()


def test_replacing_the_oldest_deletes_then_creates_as_one_workflow(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    oldest = oldest_of(FULL)

    workflow = lifecycle.snapshot_create_replacing(
        actor=actor, server_id=FULL, name="before-upgrade", description="", keep_until=None,
        replace_snapshot_id=oldest.pk,
    )  # fmt: skip
    steps = list(workflow.steps.all())
    assert [s.action for s in steps] == [StepAction.DELETE, StepAction.CREATE]
    assert [s.state for s in steps] == [StepState.DONE, StepState.RUNNING]
    polling.operations_poll_server(server_id=FULL)
    workflow = workflows.workflow_advance(workflow.pk)

    assert workflow.state == WorkflowState.SUCCEEDED
    assert not SimSnapshot.objects.filter(pk=oldest.pk).exists()
    assert SimSnapshot.objects.filter(server_id=FULL).count() == 5
    assert SimSnapshot.objects.get(server_id=FULL, name="before-upgrade").status == "completed"
    operations = Operation.objects.filter(workflow_step__workflow=workflow)
    assert {op.kind for op in operations} == {"delete", "create"}
    assert AuditEvent.objects.filter(action="workflow.started", server_id=FULL).count() == 1
    assert AuditEvent.objects.filter(action="workflow.succeeded", server_id=FULL).count() == 1


def test_a_failed_step_stops_the_workflow_and_nothing_after_it_is_sent(
    seeded_simulator, actor, queued_polls
) -> None:
    controls.add_fault(method="DELETE", status=400, message="Snapshot is locked.", times=1)

    workflow = lifecycle.snapshot_create_replacing(
        actor=actor, server_id=FULL, name="never-made", description="", keep_until=None,
        replace_snapshot_id=oldest_of(FULL).pk,
    )  # fmt: skip

    assert workflow.state == WorkflowState.FAILED
    assert "Snapshot is locked." in workflow.outcome
    assert [s.state for s in workflow.steps.all()] == [StepState.FAILED, StepState.CANCELLED]
    assert posts() == 0  # the create was never sent


def test_cancelling_before_the_next_step_starts_stops_it(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    snapshot = SimSnapshot.objects.filter(server_id=WEB, status="completed").first()
    workflow = workflows.workflow_start(
        actor=actor, kind=WorkflowKind.SAFE_RESTORE, server_id=WEB, server_name="web-server-01",
        steps=[workflows.StepPlan(StepAction.CREATE, snapshot_name="safety-1"),
               workflows.StepPlan(StepAction.RESTORE, snapshot_id=snapshot.pk,
                                  snapshot_name=snapshot.name)],
    )  # fmt: skip

    workflow = workflows.workflow_cancel(actor=actor, workflow=workflow)
    assert workflow.state == WorkflowState.RUNNING  # the safety snapshot is still being taken
    SimSnapshot.objects.filter(name="safety-1").update(status="completed")
    polling.operations_poll_server(server_id=WEB)
    workflow = workflows.workflow_advance(workflow.pk)

    assert workflow.state == WorkflowState.CANCELLED
    assert [s.state for s in workflow.steps.all()] == [StepState.DONE, StepState.CANCELLED]
    assert posts("POST /api/v1/snapshots/{id}/restore/") == 0
    assert SimServer.objects.get(pk=WEB).status == "running"


def test_one_workflow_at_a_time_on_a_server_and_the_second_is_told_who(
    seeded_simulator, actor, admin_user, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    plan = [workflows.StepPlan(StepAction.CREATE, snapshot_name="first")]
    workflows.workflow_start(actor=actor, kind=WorkflowKind.SAFE_RESTORE, server_id=WEB,
                             server_name="web-server-01", steps=plan)  # fmt: skip

    with pytest.raises(workflows.WorkflowRunning, match="omar started"):
        workflows.workflow_start(
            actor=Actor(user=admin_user, ip=None), kind=WorkflowKind.SAFE_RESTORE, server_id=WEB,
            server_name="web-server-01",
            steps=[workflows.StepPlan(StepAction.CREATE, snapshot_name="second")],
        )  # fmt: skip
    assert posts() == 1


def test_a_step_waits_while_something_else_runs_on_the_server(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_RESTORE_SECONDS = 3600
    snapshot = SimSnapshot.objects.filter(server_id=WEB, status="completed").first()
    restore = services.snapshot_restore(actor=actor, snapshot_id=snapshot.pk)
    workflow = workflows.workflow_start(
        actor=actor, kind=WorkflowKind.ROTATION, server_id=WEB, server_name="web-server-01",
        steps=[workflows.StepPlan(StepAction.CREATE, snapshot_name="after-the-restore")],
    )  # fmt: skip
    assert workflow.steps.get().state == StepState.WAITING  # refused while restoring: waits

    Operation.objects.filter(pk=restore.pk).update(
        state=OperationState.SUCCEEDED, finished_at=timezone.now()
    )
    SimServer.objects.filter(pk=WEB).update(status="running")
    workflow = workflows.workflow_advance(workflow.pk)

    assert workflow.steps.get().state == StepState.RUNNING
    assert posts() == 1


def test_a_step_that_waits_too_long_fails_the_workflow_and_says_why(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_RESTORE_SECONDS = 3600
    settings.VPS_WORKFLOW_WAIT_SECONDS = 0
    snapshot = SimSnapshot.objects.filter(server_id=WEB, status="completed").first()
    services.snapshot_restore(actor=actor, snapshot_id=snapshot.pk)
    workflow = workflows.workflow_start(
        actor=actor, kind=WorkflowKind.ROTATION, server_id=WEB, server_name="web-server-01",
        steps=[workflows.StepPlan(StepAction.CREATE, snapshot_name="too-late")],
    )  # fmt: skip

    workflow = workflows.workflow_advance(workflow.pk)

    assert workflow.state == WorkflowState.FAILED
    assert "being restored" in workflow.outcome
