"""Tasks with a real Celery worker (and its beat) and real Redis, against the simulator."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.utils import timezone

from dashboard.celery import app as celery_app
from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from snapshots_ui import polling, provider, services, tasks
from snapshots_ui.audit import Actor
from snapshots_ui.health import _HEARTBEAT_KEY as HEARTBEAT_KEY
from snapshots_ui.models import Operation, OperationKind
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory

WEB = 12345


def wait_until(condition: Callable[[], bool], *, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def state_of(operation: Operation) -> str:
    return Operation.objects.values_list("state", flat=True).get(pk=operation.pk)


@pytest.fixture
def actor(operator) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=operator, ip="198.51.100.4")


@pytest.mark.stack
def test_create_reaches_completed(seeded_simulator, celery_worker_process, actor) -> None:
    operation = services.snapshot_create(actor=actor, server_id=WEB, name="worker-create")

    assert wait_until(lambda: state_of(operation) == OperationState.SUCCEEDED)
    assert SimSnapshot.objects.get(pk=operation.snapshot_id).status == "completed"


@pytest.mark.stack
def test_restore_reaches_its_end(seeded_simulator, celery_worker_process, actor) -> None:
    snapshot = next(
        s for s in provider.get_client().list_snapshots(server_id=WEB) if s.status == "completed"
    )

    operation = services.snapshot_restore(actor=actor, snapshot_id=snapshot.id)

    assert wait_until(lambda: state_of(operation) == OperationState.SUCCEEDED)
    assert SimServer.objects.get(pk=WEB).status == "running"


@pytest.mark.stack
def test_beat_picks_up_an_operation_whose_poll_was_lost(
    seeded_simulator, celery_worker_process
) -> None:
    """An operation nobody queued a poll for (a worker or Redis lost it) still finishes."""
    created = provider.get_client().create_snapshot(server_id=WEB, name="orphan")
    operation = OperationFactory(
        kind=OperationKind.CREATE, server_id=WEB, snapshot_id=created.snapshot.id,
        snapshot_name="orphan",
    )  # fmt: skip

    assert wait_until(lambda: state_of(operation) == OperationState.SUCCEEDED)


@pytest.mark.stack
def test_rate_limited_polls_retry_and_still_finish(
    seeded_simulator, celery_worker_process, actor
) -> None:
    controls.add_fault(method="GET", status=429, retry_after=1, times=4)

    operation = services.snapshot_create(actor=actor, server_id=WEB, name="after-429")

    assert wait_until(lambda: state_of(operation) == OperationState.SUCCEEDED, timeout=45)
    assert all(fault["times"] in (0, None) for fault in controls.list_faults())


def dispatches_seen(count: int) -> bool:
    """Wait until beat's dispatch task has run ``count`` more times: each run leaves a new
    heartbeat."""
    seen = [cache.get(HEARTBEAT_KEY)]

    def one_more() -> bool:
        if (beat := cache.get(HEARTBEAT_KEY)) != seen[-1]:
            seen.append(beat)
        return len(seen) > count

    return wait_until(one_more)


@pytest.mark.stack
def test_rejected_token_pauses_polling_instead_of_retrying(
    seeded_simulator, own_worker, actor
) -> None:
    # A pause longer than the test, and no lifecycle tick (its reads would meet the token too).
    own_worker(
        "token-worker", VPS_TOKEN_REJECTED_PAUSE_SECONDS="600", VPS_LIFECYCLE_TICK_SECONDS="3600"
    ).start()
    operation = services.snapshot_create(actor=actor, server_id=WEB, name="token-revoked")
    controls.set_token("rotated-elsewhere")

    assert wait_until(lambda: "token" in Operation.objects.get(pk=operation.pk).error)
    controls.reset_call_counts()

    assert dispatches_seen(3)  # beat goes on dispatching every second (VPS_POLL_SECONDS=1)...
    assert controls.call_counts()["calls"] == 0  # ... and no poll goes to the provider
    assert state_of(operation) == OperationState.IN_PROGRESS


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple[object, ...]]]:
    """Tasks queued by name (task, arguments), recorded instead of sent to the broker."""
    sent: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(polling, "_send", lambda name, *args: sent.append((name, args)))
    return sent


def server_polls(sent: list[tuple[str, tuple[object, ...]]]) -> list[object]:
    return [args[0] for name, args in sent if name == polling.POLL_SERVER_TASK]


def sweeps(sent: list[tuple[str, tuple[object, ...]]]) -> int:
    return sum(name == polling.POLL_ACCOUNT_TASK for name, _args in sent)


def test_the_task_names_polls_are_queued_by_are_the_tasks() -> None:
    assert tasks.poll_server.name == polling.POLL_SERVER_TASK
    assert tasks.poll_account.name == polling.POLL_ACCOUNT_TASK
    assert {polling.POLL_SERVER_TASK, polling.POLL_ACCOUNT_TASK} <= set(celery_app.tasks)


def test_dispatch_keeps_one_poll_per_server_in_flight(db, sent) -> None:
    for name in ("a", "b", "c"):
        OperationFactory(server_id=WEB, snapshot_name=name)
    OperationFactory(server_id=777, snapshot_name="d")
    OperationFactory(server_id=888, snapshot_name="e", state=OperationState.SUCCEEDED)

    first = tasks.dispatch_polls()
    second = tasks.dispatch_polls()

    assert first == 2
    assert second == 0
    assert sorted(server_polls(sent)) == [777, WEB]


def test_stuck_operations_are_polled_less_often(db, sent) -> None:
    OperationFactory(server_id=WEB, state=OperationState.STUCK, last_checked_at=timezone.now())

    assert tasks.dispatch_polls() == 0
    assert sent == []


def test_dispatch_sweeps_the_account_when_many_servers_have_work(db, sent, settings) -> None:
    settings.VPS_POLL_SWEEP_SERVERS = 3
    for server_id in (101, 102):
        OperationFactory(server_id=server_id)
    assert tasks.dispatch_polls() == 2
    assert sweeps(sent) == 0

    OperationFactory(server_id=103)
    for server_id in (101, 102):
        cache.delete(polling._lock_key(server_id))  # those polls have ended
    Operation.objects.update(last_checked_at=None)

    assert tasks.dispatch_polls() == 1
    assert tasks.dispatch_polls() == 0  # the sweep queued covers every server
    assert sweeps(sent) == 1
    assert sorted(server_polls(sent)) == [101, 102]


@pytest.mark.stack
def test_a_worker_sweeping_the_account_follows_every_operation_to_its_end(
    seeded_simulator, own_worker, actor, settings, monkeypatch
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 2
    settings.VPS_SIM_RESTORE_SECONDS = 2
    # Only beat's dispatch follows these operations (not the first poll an action queues).
    monkeypatch.setattr(polling, "server_poll_queue", lambda server_id: False)
    client = provider.get_client()
    operations = [services.snapshot_create(actor=actor, server_id=12360, name="swept")]
    for server_id in (WEB, 12346):
        snapshot = next(
            s for s in client.list_snapshots(server_id=server_id) if s.status == "completed"
        )
        operations.append(services.snapshot_restore(actor=actor, snapshot_id=snapshot.id))
    celery_app.control.purge()  # polls queued by earlier tests must not run here
    controls.reset_call_counts()
    own_worker(VPS_POLL_SWEEP_SERVERS="2").start()

    assert wait_until(lambda: all(state_of(op) == OperationState.SUCCEEDED for op in operations)), [
        state_of(op) for op in operations
    ]
    # Followed from the account-wide lists: no server was asked about one by one.
    assert controls.call_counts()["by_endpoint"].get("GET /api/v1/servers/{id}/", 0) == 0
