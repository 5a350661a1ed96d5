"""Schemathesis against the live server, from the schema the API serves: generated valid and
invalid requests to every operation. No answer may be a server error, and every answer must
be one the schema declares (status, content type, body)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS

ST = Path(sys.executable).with_name("st")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


@pytest.fixture
def _quick_long_polls(settings) -> None:  # type: ignore[no-untyped-def]
    """Generated ``?wait=60`` on an operation no worker follows would hold a minute each."""
    settings.API_LONG_POLL_CAP_SECONDS = 1
    settings.API_THROTTLE_RATE = "100000/min"


@pytest.mark.usefixtures("_quick_long_polls")
def test_the_api_keeps_to_its_schema_under_generated_input(
    live_server, seeded_simulator, token_for, admin_user
) -> None:
    raw = token_for(admin_user, "read,create,restore,delete")
    ARTIFACTS.mkdir(exist_ok=True)
    report = ARTIFACTS / "schemathesis.txt"

    command = [
        str(ST), "--no-color", "run", f"{live_server.url}/api/schema/",
        "-H", f"Authorization: Bearer {raw}", "--checks", CHECKS,
        "--max-examples", "25", "--seed", "16", "--workers", "1", "--request-timeout", "20",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=540, check=False)

    report.write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-4000:]
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", run.stdout).groups())
    assert generated >= 100
    assert passed == generated
