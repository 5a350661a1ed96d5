"""Following operations (polling.py): the poll of one server and the account-wide sweep, against
the simulator over real HTTP (polls are run in-process here)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from snapshots_ui import fleet_cache, polling, provider, services
from snapshots_ui.audit import Actor
from snapshots_ui.models import AuditEvent, Operation
from snapshots_ui.statuses import OperationState
from tests.service_helpers import WEB, age, completed_snapshot


@pytest.fixture
def actor(operator) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=operator, ip="203.0.113.7")


# --- Following an operation -----------------------------------------------------------------


def test_poll_completes_a_create(seeded_simulator, actor, queued_polls, settings) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    operation = services.snapshot_create(actor=actor, server_id=WEB, name="quick")

    changed = polling.operations_poll_server(server_id=WEB)

    operation.refresh_from_db()
    assert changed == [operation]
    assert operation.state == OperationState.SUCCEEDED
    assert operation.finished_at is not None
    assert AuditEvent.objects.filter(operation=operation, action="operation.succeeded").exists()


def test_poll_batches_one_provider_call_per_server(seeded_simulator, actor, queued_polls) -> None:
    for name in ("one", "two", "three"):
        services.snapshot_create(actor=actor, server_id=WEB, name=name)
    controls.reset_call_counts()

    polling.operations_poll_server(server_id=WEB)

    assert controls.call_counts()["calls"] == 1


def test_restore_is_followed_until_the_server_leaves_restoring(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    operation = services.snapshot_restore(actor=actor, snapshot_id=completed_snapshot().id)
    assert SimServer.objects.get(pk=WEB).status == "restoring"

    polling.operations_poll_server(server_id=WEB)
    operation.refresh_from_db()
    assert operation.state == OperationState.IN_PROGRESS

    SimServer.objects.filter(pk=WEB).update(restore_due_at=timezone.now())
    polling.operations_poll_server(server_id=WEB)
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    assert "running" in operation.provider_message


def test_operation_past_the_providers_maximum_is_marked_stuck(
    seeded_simulator, actor, queued_polls
) -> None:
    operation = services.snapshot_create(actor=actor, server_id=WEB, name="slow")
    SimSnapshot.objects.filter(pk=operation.snapshot_id).update(
        complete_at=timezone.now() + timedelta(hours=1)
    )
    age(operation, operation.stuck_after.total_seconds() + 1)

    polling.operations_poll_server(server_id=WEB)

    operation.refresh_from_db()
    assert operation.state == OperationState.STUCK
    assert operation.is_active


def test_poll_raises_unavailable_for_the_task_to_retry(
    seeded_simulator, actor, queued_polls
) -> None:
    services.snapshot_create(actor=actor, server_id=WEB, name="x1")
    controls.add_fault(status=503)

    with pytest.raises(provider.ProviderUnavailable):
        polling.operations_poll_server(server_id=WEB)


def test_account_sweep_follows_every_server_from_the_two_lists(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    settings.VPS_SIM_RESTORE_SECONDS = 0
    create = services.snapshot_create(actor=actor, server_id=12360, name="swept")
    restores = [
        services.snapshot_restore(actor=actor, snapshot_id=completed_snapshot(server_id).id)
        for server_id, name in ((WEB, "web-server-01"), (12346, "web-server-02"))
    ]
    controls.reset_call_counts()

    changed = polling.operations_poll_account()

    assert sorted(op.pk for op in changed) == sorted(op.pk for op in [create, *restores])
    for operation in (create, *restores):
        operation.refresh_from_db()
        assert operation.state == OperationState.SUCCEEDED
        assert (
            AuditEvent.objects.filter(operation=operation, action="operation.succeeded").count()
            == 1
        )
    # One reading of each account-wide list (one page each here), nothing per server.
    assert controls.call_counts()["by_endpoint"] == {
        "GET /api/v1/snapshots/": 1,
        "GET /api/v1/servers/": 1,
    }
    # What it read is the fleet the pages are served from: no further call for them.
    fleet = fleet_cache.fleet_current()
    assert fleet.data is not None
    assert any(s.name == "swept" and s.status == "completed" for s in fleet.data.snapshots)
    assert controls.call_counts()["calls"] == 2


def test_an_outcome_is_not_recorded_twice_when_polls_overlap(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0
    operation = services.snapshot_create(actor=actor, server_id=WEB, name="overlap")
    polling.operations_poll_account()  # a sweep records the outcome first

    polling.operations_poll_server(server_id=WEB)  # a poll that had already started
    later = list(Operation.objects.filter(pk=operation.pk))
    later[0].state = OperationState.FAILED  # what a stale reading would conclude
    polling._record_poll(later, changed=later, now=timezone.now())

    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    assert (
        AuditEvent.objects.filter(operation=operation, action__startswith="operation.").count() == 1
    )


def test_a_sweep_costs_the_same_queries_for_3_or_30_operations(
    seeded_simulator,
    actor,
    queued_polls,
    settings,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    from tests.factories import OperationFactory

    def running(count: int) -> None:
        for _ in range(count):
            OperationFactory(server_id=WEB, snapshot_id=None, needs_reconcile=False)

    running(3)
    polling.operations_poll_account()
    with CaptureQueriesContext(connection) as few:
        polling.operations_poll_account()
    running(27)
    polling.operations_poll_account()

    with django_assert_max_num_queries(len(few)):
        polling.operations_poll_account()
    assert Operation.objects.active().filter(last_checked_at__isnull=False).count() == 30


# --- A delete whose answer was lost -------------------------------------------------------------


def deletes_sent() -> int:
    return controls.call_counts()["by_endpoint"].get("DELETE /api/v1/snapshots/{id}/", 0)


def test_a_delete_answered_too_late_is_settled_from_the_list(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    snapshot = completed_snapshot()
    settings.VPS_API_TIMEOUT = (2, 0.5)
    controls.add_fault(method="DELETE", timeout_seconds=2, times=1)  # done, but answered late

    deleted = services.snapshot_delete(actor=actor, snapshot_id=snapshot.id)

    assert deleted.unconfirmed
    assert deleted.operation.state == OperationState.IN_PROGRESS
    assert deleted.operation.needs_reconcile
    assert queued_polls == [WEB]
    settings.VPS_API_TIMEOUT = (2, 5)
    polling.operations_poll_server(server_id=WEB)
    deleted.operation.refresh_from_db()
    assert deleted.operation.state == OperationState.SUCCEEDED
    assert not SimSnapshot.objects.filter(pk=snapshot.id).exists()
    assert deletes_sent() == 1  # never sent again


def test_a_delete_that_never_reached_the_provider_fails_and_says_nothing_was_deleted(
    seeded_simulator, actor, queued_polls, settings
) -> None:
    snapshot = completed_snapshot()
    controls.add_fault(method="DELETE", status=503, times=1)

    deleted = services.snapshot_delete(actor=actor, snapshot_id=snapshot.id)
    polling.operations_poll_server(server_id=WEB)
    deleted.operation.refresh_from_db()
    assert deleted.operation.state == OperationState.IN_PROGRESS  # within the grace period

    age(deleted.operation, settings.VPS_RECONCILE_GRACE_SECONDS + 1)
    polling.operations_poll_server(server_id=WEB)

    deleted.operation.refresh_from_db()
    assert deleted.operation.state == OperationState.FAILED
    assert "Nothing was deleted" in deleted.operation.error
    assert SimSnapshot.objects.filter(pk=snapshot.id).exists()
    assert deletes_sent() == 1
