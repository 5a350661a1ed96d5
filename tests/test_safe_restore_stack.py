"""A restore you can undo through the whole stack: a real Celery worker with its beat, real
Redis, the simulator over HTTP. Each chain is started as the restore page starts it; faults
land between its steps or at one of them, and no chain may be lost: each ends, and a server is
restored only after its safety snapshot completed."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable

import pytest

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from provider_sim.services import operations_advance
from snapshots_ui import safe_restore
from snapshots_ui.audit import Actor
from snapshots_ui.models import Operation, StepAction, StepState, Workflow, WorkflowState
from snapshots_ui.safe_restore import SafetyChoice
from snapshots_ui.statuses import OperationState
from tests.test_faults import free_port, start_redis
from tests.views.helpers import RESTORE_CALL, WEB, provider_calls

pytestmark = pytest.mark.stack

WEB_2 = 12346  # web-server-02
TICK = {"VPS_LIFECYCLE_TICK_SECONDS": "1"}


def wait_for(condition: Callable[[], bool], *, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.3)
    return condition()


def start_chain(actor: Actor, server_id: int) -> Workflow:
    snapshot = SimSnapshot.objects.filter(server_id=server_id, status="completed").first()
    started = safe_restore.restore_start(
        actor=actor, snapshot_id=snapshot.pk, choice=SafetyChoice.TAKE
    )
    assert isinstance(started, Workflow)
    return started


def state_of(workflow: Workflow) -> str:
    return Workflow.objects.get(pk=workflow.pk).state


def ended(*chains: Workflow) -> Callable[[], bool]:
    return lambda: all(state_of(chain) != WorkflowState.RUNNING for chain in chains)


def safety_completed(chain: Workflow) -> bool:
    operations_advance()  # the simulator moves its operations on when it is asked
    name = chain.steps.get(action=StepAction.CREATE).snapshot_name
    return SimSnapshot.objects.filter(name=name, status="completed").exists()


def assert_restored_after_its_safety_snapshot(chain: Workflow) -> None:
    chain.refresh_from_db()
    assert chain.state == WorkflowState.SUCCEEDED, chain.outcome
    create, restore = (
        chain.steps.get(action=StepAction.CREATE).operation,
        chain.steps.get(action=StepAction.RESTORE).operation,
    )
    assert create.state == OperationState.SUCCEEDED
    assert restore.state == OperationState.SUCCEEDED
    assert create.finished_at <= restore.started_at
    assert safety_completed(chain)


def test_chains_survive_a_worker_killed_between_their_steps(
    seeded_simulator, own_worker, operator, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3
    settings.VPS_SIM_RESTORE_SECONDS = 2
    actor = Actor(user=operator, ip=None)
    doomed = own_worker("doomed", **TICK)
    doomed.start()
    chains = [start_chain(actor, server_id) for server_id in (WEB, WEB_2)]

    doomed.kill()  # SIGKILL while the safety snapshots are being taken
    assert wait_for(lambda: all(safety_completed(chain) for chain in chains), seconds=30)
    assert provider_calls(RESTORE_CALL) == 0  # no worker: the chains wait between their steps
    own_worker("replacement", **TICK).start()

    assert wait_for(ended(*chains))
    for chain in chains:
        assert_restored_after_its_safety_snapshot(chain)


def test_a_chain_survives_redis_restarting_between_its_steps(
    seeded_simulator, own_worker, operator, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 4
    settings.VPS_SIM_RESTORE_SECONDS = 2
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-chain-")
    redis = start_redis(port, workdir)
    try:
        worker = own_worker(
            "redis-chain-worker", REDIS_URL=f"redis://127.0.0.1:{port}/0",
            CACHE_REDIS_URL=f"redis://127.0.0.1:{port}/1", **TICK,
        )  # fmt: skip
        worker.start()
        chain = start_chain(Actor(user=operator, ip=None), WEB)

        redis.kill()  # the queue, the locks and every queued advance are gone with it
        redis.wait()
        assert wait_for(lambda: safety_completed(chain), seconds=30)
        redis = start_redis(port, workdir)

        assert wait_for(ended(chain))
        assert_restored_after_its_safety_snapshot(chain)
        assert worker.running
    finally:
        redis.kill()
        redis.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_safety_snapshot_that_fails_stops_the_chain_before_the_restore(
    seeded_simulator, own_worker, operator, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    own_worker("failing-create", **TICK).start()
    chain = start_chain(Actor(user=operator, ip=None), WEB)
    safety = chain.steps.get(action=StepAction.CREATE).snapshot_name
    SimSnapshot.objects.filter(name=safety).update(status="failed")

    assert wait_for(ended(chain))
    chain.refresh_from_db()
    assert chain.state == WorkflowState.FAILED
    assert [s.state for s in chain.steps.all()] == [StepState.FAILED, StepState.CANCELLED]
    assert provider_calls(RESTORE_CALL) == 0
    assert SimServer.objects.get(pk=WEB).status == "running"


def test_a_restore_the_provider_refuses_ends_the_chain_with_its_words(
    seeded_simulator, own_worker, operator, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 2
    controls.add_fault(path_contains="/restore/", status=409,
                       message="Server is locked by a support ticket.")  # fmt: skip
    own_worker("refused-restore", **TICK).start()
    chain = start_chain(Actor(user=operator, ip=None), WEB)

    assert wait_for(ended(chain))
    chain.refresh_from_db()
    assert chain.state == WorkflowState.FAILED
    assert "Server is locked by a support ticket." in chain.outcome
    assert safety_completed(chain)  # what the server was is kept
    assert not Operation.objects.filter(kind="restore", state=OperationState.SUCCEEDED).exists()
