"""The steps of the compose smoke test (started by ``scripts/compose_smoke.sh``, which provides
the base images, the wheelhouse and a copy of the checkout in ``SMOKE_WORKDIR``, and takes the
stack down whatever happens). Each step prints one PASS or FAIL line with what it saw; the
first failure stops the run."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from smoke_http import Browser, Simulator

WORK = Path(os.environ["SMOKE_WORKDIR"])
PROJECT = os.environ["SMOKE_PROJECT"]
COMPOSE = os.environ["SMOKE_COMPOSE"].split()
PUBLIC_HOST = "snapshots.example.test"
ADMIN = "admin"
# Short simulated snapshots, long enough for a restart of web, worker and beat to fall inside.
CREATE_SECONDS = 40
HEALTHY_TIMEOUT = 240
OPERATION_TIMEOUT = 150
LOG_LINES = 40


class StepFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WEB_PORT = free_port()
SIM_PORT = free_port()
SECRETS = {name: secrets.token_urlsafe(24) for name in ("key", "token", "db", "admin")}


def write_environment() -> None:
    """A production .env as a user fills it in, and an override that swaps in the base
    images this machine has and publishes the simulator's port for the call counter."""
    env = {
        "SECRET_KEY": SECRETS["key"] * 2,
        "VPS_API_TOKEN": SECRETS["token"],
        "VPS_API_BASE_URL": "http://provider-sim:8001/api/v1/",
        "POSTGRES_PASSWORD": SECRETS["db"],
        "ALLOWED_HOSTS": PUBLIC_HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{PUBLIC_HOST}",
        "DASHBOARD_ADMIN_USER": ADMIN,
        "DASHBOARD_ADMIN_PASSWORD": SECRETS["admin"],
        "DASHBOARD_BIND_ADDRESS": "127.0.0.1",
        "PORT": str(WEB_PORT),
        "TRUSTED_PROXY_COUNT": "1",
        "LOG_LEVEL": "INFO",
        "VPS_SIM_CREATE_SECONDS": str(CREATE_SECONDS),
    }
    (WORK / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    (WORK / "docker-compose.smoke.yml").write_text(
        "services:\n"
        f"  postgres:\n    image: {os.environ['SMOKE_POSTGRES_IMAGE']}\n"
        f"  redis:\n    image: {os.environ['SMOKE_REDIS_IMAGE']}\n"
        f'  provider-sim:\n    ports: ["127.0.0.1:{SIM_PORT}:8001"]\n'
    )


def compose(*args: str, capture: bool = False, check: bool = True) -> str:
    command = [*COMPOSE, "-p", PROJECT, "-f", "docker-compose.yml"]
    command += ["-f", "docker-compose.smoke.yml", "--profile", "demo", *args]
    result = subprocess.run(
        command,
        cwd=WORK,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
    )
    if check and result.returncode != 0:
        raise StepFailed(f"`{' '.join(args)}` exited with {result.returncode}: {result.stdout}")
    return result.stdout or ""


def containers() -> list[dict]:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not ids:
        return []
    out = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def describe(container: dict) -> tuple[str, str]:
    """(name, state): healthy, unhealthy, starting, running (no health check) or exited N."""
    state = container["State"]
    name = container["Name"].lstrip("/")
    if state["Status"] != "running":
        return name, f"exited {state['ExitCode']}" if state["Status"] == "exited" else state[
            "Status"
        ]
    return name, state.get("Health", {}).get("Status", "running")


def last_lines(name: str) -> str:
    logs = subprocess.run(
        ["docker", "logs", "--tail", str(LOG_LINES), name], capture_output=True, text=True
    )
    return (logs.stdout + logs.stderr).rstrip()


def wait_healthy(expected: int) -> str:
    """Every service healthy (migrate: exited 0); fails with the culprit's last log lines."""
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    started = time.monotonic()
    while True:
        states = dict(describe(c) for c in containers())
        bad = {
            name: state
            for name, state in states.items()
            if state == "unhealthy"
            or (state.startswith("exited") and not (state == "exited 0" and "migrate" in name))
        }
        waiting = [n for n, s in states.items() if s in ("starting", "created", "restarting")]
        if bad or (time.monotonic() > deadline and waiting):
            culprits = bad or {name: states[name] for name in waiting}
            report = [
                f"{name} is {state}; its last lines:\n{last_lines(name)}"
                for name, state in culprits.items()
            ]
            raise StepFailed("\n".join(report))
        if not waiting and len(states) >= expected:
            healthy = sum(state == "healthy" for state in states.values())
            seconds = time.monotonic() - started
            return f"{healthy} containers healthy and migrate exited 0 after {seconds:.0f} s"
        time.sleep(2)


def operation_ids(browser: Browser, server_id: int) -> set[int]:
    page = browser.get(f"/servers/{server_id}/")
    return {int(found) for found in re.findall(r"/operations/(\d+)/", page.text)}


def snapshot_create(browser: Browser, server_id: int, name: str) -> int:
    """Creates a snapshot from the server page's form; returns its operation's id."""
    before = operation_ids(browser, server_id)
    page = f"/servers/{server_id}/"
    data = {"name": name, "description": "compose smoke test", "keep_days": "0"}
    answer = browser.form_post(page, f"/servers/{server_id}/snapshots/", data)
    if answer.status != 302:
        raise StepFailed(f"create answered HTTP {answer.status}: {answer.text[:300]}")
    new = operation_ids(browser, server_id) - before
    if len(new) != 1:
        raise StepFailed(f"expected one new operation on the server page, found {sorted(new)}")
    return new.pop()


def operation_outcome(browser: Browser, operation_id: int) -> str | None:
    """None while active; otherwise the outcome's level and message (HTTP 286 ends it)."""
    answer = browser.get(f"/operations/{operation_id}/", headers={"HX-Request": "true"})
    if answer.status == 200:
        return None
    if answer.status != 286:
        raise StepFailed(f"operation {operation_id}: HTTP {answer.status}")
    event = json.loads(answer.headers["hx-trigger"])["operation-finished"]
    return f"{event['level']}: {event['message']}"


def wait_completed(browser: Browser, operation_id: int) -> str:
    """Waits for the outcome; web may still be starting (connection refused or reset)."""
    deadline = time.monotonic() + OPERATION_TIMEOUT
    while time.monotonic() < deadline:
        try:
            outcome = operation_outcome(browser, operation_id)
        except OSError:
            time.sleep(2)
            continue
        if outcome is not None:
            if not outcome.startswith("success"):
                raise StepFailed(f"operation {operation_id} ended with {outcome}")
            return outcome
        time.sleep(2)
    raise StepFailed(f"operation {operation_id} still in progress after {OPERATION_TIMEOUT} s")


class Smoke:
    def __init__(self) -> None:
        self.browser = Browser(port=WEB_PORT, host=PUBLIC_HOST)
        self.simulator = Simulator(port=SIM_PORT, token=SECRETS["token"])
        self.servers: list[dict] = []
        self.operations: dict[int, str] = {}  # operation id -> snapshot name

    def build(self) -> str:
        compose(
            "build",
            "--build-arg",
            f"PYTHON_IMAGE={os.environ['SMOKE_PYTHON_IMAGE']}",
            "--build-arg",
            "OFFLINE_WHEELS=1",
        )
        image = json.loads(
            subprocess.run(
                ["docker", "image", "inspect", "snapshot-dashboard:latest"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )[0]
        config = image["Config"]
        if config.get("User") in ("", "root", "0") or not config.get("Healthcheck"):
            user, check = config.get("User"), config.get("Healthcheck")
            raise StepFailed(f"the image runs as {user!r}, health check {check}")
        size = image["Size"] / 1e6
        return f"snapshot-dashboard:latest, {size:.0f} MB, user {config['User']}, a HEALTHCHECK"

    def up(self) -> str:
        compose("up", "-d")
        return wait_healthy(expected=7)

    def log_in(self) -> str:
        self.browser.log_in(ADMIN, SECRETS["admin"])
        self.servers = [s for s in self.simulator.servers() if s["status"] == "running"]
        fleet = self.browser.get("/")
        missing = [s["name"] for s in self.servers if str(s["name"]) not in fleet.text]
        if fleet.status != 200 or missing:
            raise StepFailed(f"fleet page HTTP {fleet.status}; servers not shown: {missing}")
        count = len(self.servers)
        return f"logged in as {ADMIN!r}; the fleet page lists the simulator's {count} servers"

    def _server(self) -> int:
        """A running server with room for a snapshot, a different one for each step."""
        used = len(self.operations)
        candidates = [s for s in self.servers if self.simulator.snapshot_count(int(s["id"])) < 5]
        if len(candidates) <= used:
            raise StepFailed("no running server of the simulator has room for a snapshot")
        return int(candidates[used]["id"])

    def snapshot(self) -> str:
        server_id = self._server()
        name = f"smoke-{len(self.operations) + 1}-{secrets.token_hex(2)}"
        started = time.monotonic()
        operation_id = snapshot_create(self.browser, server_id, name)
        self.operations[operation_id] = name
        outcome = wait_completed(self.browser, operation_id)
        return f"{name} on server {server_id}: {outcome} ({time.monotonic() - started:.0f} s)"

    def scale(self) -> str:
        compose("up", "-d", "--scale", "worker=3")
        health = wait_healthy(expected=9)
        workers = [
            c
            for c in containers()
            if c["Config"]["Labels"]["com.docker.compose.service"] == "worker"
        ]
        if len(workers) != 3:
            raise StepFailed(f"{len(workers)} worker containers, not 3")
        server_id = self._server()
        name = f"smoke-{len(self.operations) + 1}-{secrets.token_hex(2)}"
        self.simulator.calls_reset()
        started = time.monotonic()
        operation_id = snapshot_create(self.browser, server_id, name)
        self.operations[operation_id] = name
        outcome = wait_completed(self.browser, operation_id)
        seconds = time.monotonic() - started
        calls = self.simulator.calls()
        reads = sum(n for endpoint, n in calls.items() if endpoint.startswith("GET"))
        # One poll a second (VPS_POLL_SECONDS) at most, plus the pages' and beat's own reads;
        # three workers polling on their own would make about three a second.
        if reads > seconds * 1.5 + 10:
            raise StepFailed(f"{reads} provider reads in {seconds:.0f} s with 3 workers: {calls}")
        reading = f"{reads} provider reads in {seconds:.0f} s ({calls})"
        return f"{health}; 3 workers; {name}: {outcome}; {reading}"

    def restart(self) -> str:
        server_id = self._server()
        name = f"smoke-{len(self.operations) + 1}-{secrets.token_hex(2)}"
        started = time.monotonic()
        operation_id = snapshot_create(self.browser, server_id, name)
        self.operations[operation_id] = name
        compose("restart", "web", "worker", "beat")
        restarted = time.monotonic() - started
        # The simulator was not restarted: it tells whether the restart fell inside the work.
        at_provider = self.simulator.snapshot_status(server_id, name)
        if at_provider != "in_progress":
            raise StepFailed(f"the snapshot was {at_provider} before the restart was over")
        # Not waiting for the health checks first: the operation has to finish by itself.
        outcome = wait_completed(self.browser, operation_id)
        return (
            f"web, worker and beat restarted {restarted:.0f} s into {name}, still in progress "
            f"then; {outcome} ({time.monotonic() - started:.0f} s)"
        )

    def down_up(self) -> str:
        compose("down")
        volumes = subprocess.run(
            [
                "docker",
                "volume",
                "ls",
                "-q",
                "--filter",
                f"label=com.docker.compose.project={PROJECT}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if containers() or len(volumes) != 1:
            raise StepFailed(f"after down: containers {containers()}, volumes {volumes}")
        compose("up", "-d")
        health = wait_healthy(expected=7)
        migrate = compose("logs", "--no-color", "migrate", capture=True)
        if "already exists" not in migrate:
            raise StepFailed(f"ensure_admin did not find the admin again: {migrate[-500:]}")
        self.browser.log_in(ADMIN, SECRETS["admin"])
        for operation_id in self.operations:
            if not (operation_outcome(self.browser, operation_id) or "").startswith("success"):
                raise StepFailed(f"operation {operation_id} lost its outcome")
        activity = self.browser.get("/activity/").text
        missing = [name for name in self.operations.values() if name not in activity]
        if missing:
            raise StepFailed(f"the activity page lacks {missing}")
        return (
            f"volume {volumes[0]} kept; {health}; the admin logs in, the "
            f"{len(self.operations)} operations and their audit records are there"
        )

    def down_v(self) -> str:
        compose("down", "-v", "--remove-orphans")
        project = f"label=com.docker.compose.project={PROJECT}"
        left = []
        for kind in ("ps -aq", "network ls -q", "volume ls -q"):
            left += subprocess.run(
                ["docker", *kind.split(), "--filter", project],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
        if left:
            raise StepFailed(f"left behind: {left}")
        return "no container, network or volume of the project left"


def run(steps: list[tuple[str, Callable[[], str]]]) -> int:
    for title, step in steps:
        started = time.monotonic()
        print(f"--- {title}", flush=True)
        try:
            seen = step()
        except Exception as failure:  # any failure is reported the same way
            print(f"FAIL  {title} ({time.monotonic() - started:.0f} s): {failure}", flush=True)
            return 1
        print(f"PASS  {title} ({time.monotonic() - started:.0f} s): {seen}", flush=True)
    return 0


def main() -> int:
    write_environment()
    smoke = Smoke()
    return run(
        [
            ("docker compose build (the production Dockerfile)", smoke.build),
            ("up -d --profile demo, every service healthy", smoke.up),
            ("log in over HTTP as the first admin, see the simulator's servers", smoke.log_in),
            ("create a snapshot and see it completed", smoke.snapshot),
            ("--scale worker=3: the operation polled once per cycle", smoke.scale),
            ("restart web worker beat mid-operation: it still completes", smoke.restart),
            ("down, then up with the volume kept: users, operations, audit trail", smoke.down_up),
            ("down -v: nothing left", smoke.down_v),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
