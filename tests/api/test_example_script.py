"""``examples/snapshot-before-deploy.py`` plays the CI job against a running dashboard (the
live server, the simulator, a real Celery worker following the operation): it exits 0 once the
snapshot has completed, and 1 when it was refused or did not complete."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, CeleryWorker
from tests.views.helpers import CREATE_CALL, EMPTY, REPLICA, provider_calls

SCRIPT = ROOT / "examples" / "snapshot-before-deploy.py"


def _run(url: str, token: str, server: int, name: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "DASHBOARD_URL": url,
        "DASHBOARD_TOKEN": token,
        "SERVER_ID": str(server),
        "SNAPSHOT_NAME": name,
        "WAIT_MINUTES": "2",
    }
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True,
                          text=True, timeout=180, check=False)  # fmt: skip


@pytest.fixture(autouse=True)
def _polls_recorded() -> None:
    """The worker follows the operations here: polls are queued for real."""


@pytest.mark.stack  # a real worker follows the job's snapshot
def test_the_ci_job_waits_for_completed_and_succeeds(
    live_server, seeded_simulator, celery_worker_process: CeleryWorker, token_for, operator
) -> None:
    run = _run(live_server.url, token_for(operator, "read,create"), EMPTY, "before-deploy-abc123")

    assert run.returncode == 0, run.stderr
    assert "Snapshot “before-deploy-abc123” completed" in run.stdout
    assert provider_calls(CREATE_CALL) == 1


@pytest.mark.stack
def test_a_retried_job_does_not_take_a_second_snapshot(
    live_server, seeded_simulator, celery_worker_process: CeleryWorker, token_for, operator
) -> None:
    token = token_for(operator, "read,create")

    first = _run(live_server.url, token, EMPTY, "before-deploy-retry")
    again = _run(live_server.url, token, EMPTY, "before-deploy-retry")

    assert first.returncode == again.returncode == 0
    assert provider_calls(CREATE_CALL) == 1


def test_the_ci_job_fails_when_the_snapshot_is_refused(
    live_server, seeded_simulator, token_for, operator
) -> None:
    run = _run(live_server.url, token_for(operator, "read,create"), REPLICA, "before-deploy-x")

    assert run.returncode == 1
    assert "the provider's limit" in run.stderr
