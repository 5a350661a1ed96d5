"""Shared fixtures: the provider simulator over real HTTP, a real Celery worker, team members
in each role, and a clean cache for every test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from provider_sim.server import RunningSimulator, start_in_thread
from snapshots_ui.roles import ensure_roles
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
# A test that asks for one of these starts real processes (a Celery worker, a Redis, the whole
# `make run` stack), and such tests, only they, carry the ``stack`` mark.
STACK_FIXTURES = frozenset({"_shared_worker", "make_run"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a run in which the ``stack`` mark says something untrue about a test."""
    wrong = [
        item.nodeid
        for item in items
        if (item.get_closest_marker("stack") is not None)
        != bool(STACK_FIXTURES & set(getattr(item, "fixturenames", ())))
    ]
    if wrong:
        raise pytest.UsageError(
            "The stack mark goes on the tests that start a worker or Redis, and only on them;"
            " wrong for: " + ", ".join(wrong)
        )


# Tests make provider calls far faster than any real budget allows; the budget's own tests
# set a real one.
TEST_RATE_LIMIT = "1000000"


@pytest.fixture(autouse=True)
def _budget_out_of_the_way(settings) -> None:  # type: ignore[no-untyped-def]
    settings.VPS_API_RATE_LIMIT = int(TEST_RATE_LIMIT)


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Each test starts with an empty cache (the tests use a Redis database of their own)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def _simulator_server() -> Iterator[RunningSimulator]:
    running = start_in_thread()
    yield running
    running.stop()


@pytest.fixture
def simulator(
    transactional_db: None, settings, _simulator_server: RunningSimulator
) -> RunningSimulator:
    """The provider simulator served over real HTTP on a free loopback port.

    It runs in a thread of the test process and uses the test database, so the data must be
    committed (``transactional_db``). Durations are short so that tests can watch operations
    finish; tests that need other values change ``settings`` before calling the simulator.
    """
    from provider_sim import controls
    from provider_sim.rate_limit import rate_limit_reset

    rate_limit_reset()
    settings.VPS_SIM_CREATE_SECONDS = 2
    settings.VPS_SIM_RESTORE_SECONDS = 2
    settings.VPS_API_BASE_URL = _simulator_server.base_url
    settings.VPS_API_TOKEN = _simulator_server.token
    controls.clear_faults()
    controls.reset_call_counts()
    return _simulator_server


@pytest.fixture
def seeded_simulator(simulator: RunningSimulator) -> RunningSimulator:
    """The simulator with its demo data (servers, snapshots) in place."""
    from provider_sim.seed import seed_demo_data

    seed_demo_data()
    return simulator


@pytest.fixture
def queued_polls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Server ids whose status poll was queued on commit, recorded instead of sent to a broker
    (for tests that run no worker)."""
    from snapshots_ui import polling

    queued: list[int] = []
    monkeypatch.setattr(polling, "server_poll_queue", queued.append)
    return queued


@pytest.fixture
def roles(db: None) -> None:
    """The role groups (transactional tests flush the ones the migration made)."""
    ensure_roles()


@pytest.fixture
def viewer(roles: None):  # type: ignore[no-untyped-def]
    return UserFactory(username="vera", role="Viewer")


@pytest.fixture
def operator(roles: None):  # type: ignore[no-untyped-def]
    return UserFactory(username="omar", role="Operator")


@pytest.fixture
def admin_user(roles: None):  # type: ignore[no-untyped-def]
    return UserFactory(username="ada", role="Admin", is_staff=True)


@pytest.fixture
def viewer_client(client: Client, viewer) -> Client:
    """Django's test client, logged in as a Viewer."""
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(client: Client, operator) -> Client:
    """Django's test client, logged in as an Operator."""
    client.force_login(operator)
    return client


@pytest.fixture
def admin_client(client: Client, admin_user) -> Client:
    """Django's test client, logged in as an Admin (staff)."""
    client.force_login(admin_user)
    return client


def _database_url_for_subprocess() -> str:
    """The test database, as a URL a separate process (a Celery worker) can open."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{settings_dict['NAME']}"


class CeleryWorker:
    """A real Celery worker (with its beat) in its own process, on the test database, following
    operations at the simulator. ``start`` and ``stop`` may be called again, e.g. to kill it."""

    def __init__(self, *, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = ARTIFACTS / f"{name}-{os.getpid()}.log"
        self._schedule_dir = tempfile.mkdtemp(prefix="celerybeat-")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            offset = log.tell()
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--beat",
                    "--loglevel", "INFO", "--concurrency", "2", "--hostname", f"{self.name}@%h",
                    "--schedule", str(Path(self._schedule_dir) / "schedule"),
                ],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while b" ready." not in self.log_path.read_bytes()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the Celery worker did not start; see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        """A warm shutdown, as on a deploy."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL to the worker and its pool, as when a machine dies."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None


def worker_environment(sim: RunningSimulator, **overrides: str) -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ,
        "DATABASE_URL": _database_url_for_subprocess(),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CACHE_REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "VPS_API_BASE_URL": sim.base_url,
        "VPS_API_TOKEN": sim.token,
        "VPS_API_READ_TIMEOUT": "2",
        "VPS_POLL_SECONDS": "1",
        "VPS_TOKEN_REJECTED_PAUSE_SECONDS": "3",
        "VPS_API_RATE_LIMIT": TEST_RATE_LIMIT,
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


_SHARED_WORKERS: list[CeleryWorker] = []


@pytest.fixture(autouse=True)
def _no_stray_worker(request: pytest.FixtureRequest) -> None:
    """A test that did not ask for the shared worker runs without it: a worker left from an
    earlier test would otherwise follow (and call the provider for) this test's operations."""
    if "celery_worker_process" in request.fixturenames:
        return
    for worker in _SHARED_WORKERS:
        if worker.running:
            worker.stop()


@pytest.fixture(scope="session")
def _shared_worker(
    django_db_setup: None, django_db_blocker, _simulator_server: RunningSimulator
) -> Iterator[CeleryWorker]:
    with django_db_blocker.unblock():
        worker = CeleryWorker(name="worker", env=worker_environment(_simulator_server))
    _SHARED_WORKERS.append(worker)
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker_process(_shared_worker: CeleryWorker) -> CeleryWorker:
    """The session's shared worker, started on first use."""
    if not _shared_worker.running:
        _shared_worker.start()
    return _shared_worker


@pytest.fixture
def own_worker(_shared_worker: CeleryWorker, simulator: RunningSimulator) -> Iterator:
    """Make workers of this test's own (to kill, or to point at another Redis); the shared
    worker is stopped meanwhile so that only these follow the operations."""
    _shared_worker.stop()
    made: list[CeleryWorker] = []

    def make(name: str = "own-worker", **overrides: str) -> CeleryWorker:
        worker = CeleryWorker(name=name, env=worker_environment(simulator, **overrides))
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.kill()
