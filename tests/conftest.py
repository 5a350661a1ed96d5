"""Shared fixtures: the provider simulator over real HTTP, a real Celery worker, team members
in each role, and a clean cache for every test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection

from provider_sim.server import RunningSimulator, start_in_thread
from snapshots_ui.roles import ensure_roles
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


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


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None, django_db_blocker, _simulator_server: RunningSimulator
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker (with its beat) in its own process, on the test database and
    the tests' Redis, following operations at the simulator."""
    from django.conf import settings

    with django_db_blocker.unblock():
        database_url = _database_url_for_subprocess()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"celery-worker-{os.getpid()}.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CACHE_REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "VPS_API_BASE_URL": _simulator_server.base_url,
        "VPS_API_TOKEN": _simulator_server.token,
        "VPS_POLL_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--beat",
            "--loglevel", "INFO", "--concurrency", "2", "--purge",
            "--schedule", str(ARTIFACTS / f"celerybeat-schedule-{os.getpid()}"),
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while b" ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the Celery worker did not start; see {log_path}")
        time.sleep(0.2)
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
