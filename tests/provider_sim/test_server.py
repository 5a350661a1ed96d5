"""Serving the simulator (server.py): in a thread with a prompt stop(), and as the
provider_sim management command until signalled."""

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection

from provider_sim import controls
from provider_sim.models import SimFault
from provider_sim.seed import seed_demo_data
from provider_sim.server import CONNECTION_THREAD, RunningSimulator, start_in_thread
from tests.provider_sim.helpers import SPEC_CREATE_REQUEST, TIMEOUT, call


def _connection_threads(sim: RunningSimulator) -> list[threading.Thread]:
    port = sim.root_url.rstrip("/").rsplit(":", 1)[1]
    return [t for t in threading.enumerate() if t.name == f"{CONNECTION_THREAD}-{port}"]


def _wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_stop_answers_a_held_request_and_ends_open_connections(transactional_db: None) -> None:
    sim = start_in_thread()  # its own, not the session's shared simulator
    try:
        seed_demo_data()
        session = requests.Session()  # keeps its connection open between requests
        assert session.get(
            sim.base_url + "servers/",
            headers={"Authorization": f"Bearer {sim.token}"},
            timeout=TIMEOUT,
        ).ok
        fault = controls.add_fault(timeout_seconds=60, times=1)
        outcome: list[object] = []

        def held_request() -> None:
            try:  # a read timeout far longer than the test waits for the answer
                outcome.append(call(sim, "GET", "snapshots/", timeout=(3.05, 30)).status_code)
            except requests.RequestException as exc:
                outcome.append(exc)

        held = threading.Thread(target=held_request, daemon=True)
        held.start()
        # The simulator has taken the fault's only use: from here the request is held 60 s.
        assert _wait_for(lambda: SimFault.objects.get(pk=fault).remaining == 0)
        assert outcome == []

        sim.stop()
        held.join(10)

        assert outcome == [200]  # answered because of the stop, not ended by a timeout
        assert _connection_threads(sim) == []  # the idle kept-alive connection was ended too
        with pytest.raises(requests.ConnectionError):
            requests.get(sim.base_url + "servers/", timeout=2)
        sim.stop()  # a second stop is harmless
        session.close()
    finally:
        sim.stop()


def _database_url() -> str | None:
    """The test database as a DATABASE_URL for a child process, if the engine is known."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = quote(db["USER"] or "", safe="")
        password = quote(db["PASSWORD"] or "", safe="")
        return (
            f"postgres://{user}:{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        )
    return None


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_management_command_serves_until_signalled(
    transactional_db: None, stop_signal: signal.Signals
) -> None:
    database_url = _database_url()
    if database_url is None:
        pytest.skip("unknown database engine")
    env = {**os.environ, "DATABASE_URL": database_url, "VPS_API_TOKEN": "command-token"}
    env.pop("VPS_SIM_TOKEN", None)
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "provider_sim", "--port", "0", "--create-seconds", "0"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the simulator did not start"
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/api/v1/)", line)
        assert match, line
        base_url = match.group(1)

        headers = {"Authorization": "Bearer command-token"}
        servers = requests.get(base_url + "servers/", headers=headers, timeout=TIMEOUT)
        created = requests.post(
            base_url + "snapshots/", headers=headers, json=SPEC_CREATE_REQUEST, timeout=TIMEOUT
        )
        listed = requests.get(
            base_url + "snapshots/?server_id=12345", headers=headers, timeout=TIMEOUT
        )

        assert servers.status_code == 200
        assert servers.json()["count"] == 6
        assert created.status_code == 201
        assert listed.json()["results"][0]["status"] == "completed"  # --create-seconds 0

        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
