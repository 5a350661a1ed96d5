"""Run the whole dashboard stack on one machine, or the test suite, with embedded defaults.

    python scripts/devstack.py run     # what `make run` does
    python scripts/devstack.py test    # what `make test` does (extra arguments go to pytest)

`run` migrates, makes sure an admin user exists, then starts (each only when needed) an
embedded Redis, the provider simulator, a Celery worker, Celery beat and the web server, and
shows their output with each one's name in front. Once the dashboard answers and the worker
has reported, a short banner is the last thing printed: the URL, the user (with its password
on the first run), where the data lives, how to stop. Routine work (beat's ticks, the polls,
health checks, the status requests of open pages) is logged at DEBUG, so nothing scrolls the
banner away while nobody does anything; ``LOG_LEVEL=DEBUG`` shows it all.

Ctrl-C, SIGTERM or SIGHUP stops every process it started, Redis last, within STOP_SECONDS.
When one of them dies on its own the others are stopped too, and the one that died is named
with its last lines of output.

`test` starts an embedded Redis for the suite when ``REDIS_URL`` is not set, then runs pytest.

This script only uses the standard library so that it can run before Django is configured.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import processes
from processes import (
    ROOT,
    Child,
    Stack,
    StartFailed,
    Stopping,
    check_stop,
    env_port,
    free_port,
    port_is_free,
    redis_command,
    say,
    signal_group,
    stop_requested,
    wait_for_port,
)

RUN_DIR = ROOT / ".run"
PYTHON = sys.executable
READY_TIMEOUT = 90
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What `manage.py ensure_admin` says when it generated the password.
GENERATED_PASSWORD = re.compile(r"Created user .* with password '(?P<password>[^']+)'")


# --- One-off steps: migrate, ensure_admin ------------------------------------------------------


def manage(*args: str, env: dict[str, str], capture: bool = False) -> str:
    """Run a management command to its end (its output shown, or returned with ``capture``).

    It has a session of its own, so that Ctrl-C does not leave a traceback of it: it is
    stopped with SIGTERM instead.
    """
    process = subprocess.Popen(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, start_new_session=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if capture else None, text=True,
    )  # fmt: skip
    while True:
        try:
            output, _ = process.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if stop_requested.is_set():
                signal_group(process, signal.SIGTERM)
                process.wait()
                raise Stopping from None
    if process.returncode != 0:
        raise StartFailed(f"manage.py {args[0]} exited with code {process.returncode}")
    return output or ""


@dataclass(frozen=True)
class Login:
    user: str
    password: str | None  # generated and printed just now: shown again in the banner
    how: str  # where the password is when it is not shown


def ensure_admin(env: dict[str, str]) -> Login:
    output = manage("ensure_admin", env=env, capture=True)
    print(output, end="", flush=True)
    user = env.get("DASHBOARD_ADMIN_USER") or "admin"
    if found := GENERATED_PASSWORD.search(output):
        return Login(user=user, password=found["password"], how="")
    if "Created user" in output and env.get("DASHBOARD_ADMIN_PASSWORD"):
        return Login(user=user, password=None, how="the one in DASHBOARD_ADMIN_PASSWORD")
    how = (
        "the one shown on the first run (to set a new one: "
        f"`.venv/bin/python manage.py changepassword {user}`)"
    )
    return Login(user=user, password=None, how=how)


# --- Run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    web: int
    simulator: int
    redis: int


def _ports(env: dict[str, str]) -> Ports:
    ports = Ports(
        web=env_port("PORT", 8000),
        simulator=env_port("VPS_SIM_PORT", 8001),
        redis=env_port("REDIS_EMBEDDED_PORT", 6390),
    )
    wanted = [("PORT", ports.web)]
    if not env.get("REDIS_URL"):
        wanted.append(("REDIS_EMBEDDED_PORT", ports.redis))
    if not env.get("VPS_API_BASE_URL"):
        wanted.append(("VPS_SIM_PORT", ports.simulator))
    for name, number in wanted:
        if not port_is_free(number):
            sys.exit(
                f"Port {number} ({name}) is already in use. Stop what uses it, or choose "
                f"another one, e.g. `{name}={number + 10} make run`."
            )
    return ports


def start_services(stack: Stack, env: dict[str, str], ports: Ports, level: str) -> None:
    """Start what is needed, each once the one it depends on listens; sets ``REDIS_URL`` and
    ``VPS_API_BASE_URL`` in ``env`` for the embedded ones."""
    if not env.get("REDIS_URL"):
        redis = stack.start("redis", redis_command(ports.redis, RUN_DIR, "warning"), env)
        wait_for_port(ports.redis, timeout=15, child=redis)
        env["REDIS_URL"] = f"redis://127.0.0.1:{ports.redis}/0"
    if not env.get("VPS_API_BASE_URL"):
        simulator = stack.start(
            "simulator", [PYTHON, "manage.py", "provider_sim", "--port", str(ports.simulator)], env
        )
        wait_for_port(ports.simulator, timeout=30, child=simulator)
        env["VPS_API_BASE_URL"] = f"http://127.0.0.1:{ports.simulator}/api/v1/"
    # Celery's start-up banners only with LOG_LEVEL=DEBUG; one worker needs no gossip.
    celery = [PYTHON, "-m", "celery", "-A", "dashboard", *([] if level == "DEBUG" else ["-q"])]
    stack.start("worker", [
        *celery, "worker", "-l", level, "-c", "2", "--without-mingle", "--without-gossip",
    ], env)  # fmt: skip
    stack.start("beat", [
        *celery, "beat", "-l", level, "-s", str(RUN_DIR / "celerybeat-schedule"),
    ], env)  # fmt: skip
    web = stack.start("web", [
        PYTHON, "-m", "gunicorn", "dashboard.wsgi", "--bind", f"127.0.0.1:{ports.web}",
        "--workers", "2", "--threads", "4", "--log-level", level.lower(),
        "--access-logfile", "-", "--logger-class", "dashboard.access_log.ShortAccessLog",
        "--no-control-socket",  # one per user by default: a second `make run` would clash
    ], env)  # fmt: skip
    wait_for_port(ports.web, timeout=30, child=web)


def _worker_reported(port: int) -> bool:
    """Whether /health/ answers and has seen the worker run beat's latest tick."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2) as answer:
            return json.load(answer)["checks"]["worker"] == "ok"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def wait_until_ready(stack: Stack, port: int) -> None:
    """Until the dashboard answers and the worker has run a task that beat queued; then until
    the processes have said what they say on starting (the banner must come last)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not _worker_reported(port):
        check_stop()
        if (child := stack.first_exited()) is not None:
            raise StartFailed(f"{child.name} {child.describe_exit()}", child)
        if time.monotonic() > deadline:
            worker = next(c for c in stack.children if c.name == "worker")
            raise StartFailed(f"the worker did not report within {READY_TIMEOUT} s", worker)
        time.sleep(0.3)
    settled_by = time.monotonic() + 3
    while time.monotonic() - processes.last_output_at() < 0.5 and time.monotonic() < settled_by:
        time.sleep(0.1)


def banner(*, url: str, login: Login, env: dict[str, str]) -> list[str]:
    if env.get("DATABASE_URL"):
        data = "the database in DATABASE_URL"
    else:
        data = f"{ROOT / 'db.sqlite3'} (delete it to start afresh)"
    password = f"{login.password}   (shown on this first run only)" if login.password else login.how
    rule = "-" * 72
    return [
        rule,
        f"  The dashboard is ready:  {url}",
        f"  user       {login.user}",
        f"  password   {password}",
        f"  data       {data}",
        f"  provider   {env['VPS_API_BASE_URL']}",
        "  log        one line per request and per operation; LOG_LEVEL=DEBUG shows all",
        "  stop       Ctrl-C",
        rule,
    ]


def _log_level() -> str:
    level = (os.environ.get("LOG_LEVEL") or "INFO").strip().upper()
    if level not in LOG_LEVELS:
        sys.exit(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}.")
    return level


def _start_and_wait(stack: Stack, env: dict[str, str], ports: Ports, level: str) -> Child | None:
    """Start everything, show the banner, and wait; returns the child that died on its own,
    or None when asked to stop."""
    manage("migrate", "--noinput", env=env)
    login = ensure_admin(env)
    say("starting the stack")
    start_services(stack, env, ports, level)
    wait_until_ready(stack, ports.web)
    for line in banner(url=f"http://127.0.0.1:{ports.web}/", login=login, env=env):
        say(line, prefix="")
    while not stop_requested.wait(0.5):
        if (child := stack.first_exited()) is not None:
            return child
    return None


def _report(child: Child, message: str) -> None:
    say(f"{message}; its last lines:")
    for line in child.last_lines:
        say(line, prefix=f"{child.name:<9} | ")


def run() -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    level = env["LOG_LEVEL"] = _log_level()
    ports = _ports(env)
    RUN_DIR.mkdir(exist_ok=True)
    processes.stop_on_signals()
    stack = Stack()
    failure: StartFailed | None = None
    died: Child | None = None
    try:
        died = _start_and_wait(stack, env, ports, level)
        if died is not None:
            say(f"{died.name} {died.describe_exit()}; stopping the rest")
    except Stopping:
        pass
    except StartFailed as exc:
        failure = exc
    finally:
        stack.stop()
    if died is not None:
        _report(died, f"stopped everything because {died.name} {died.describe_exit()}")
    elif failure is not None:
        if failure.child is not None:
            _report(failure.child, f"could not start: {failure}")
        else:
            say(f"could not start: {failure}")
    say("stopped")
    return 1 if died or failure else 0


# --- Test -----------------------------------------------------------------------------------------


def test(pytest_args: list[str]) -> int:
    env = dict(os.environ)
    stack = Stack()
    try:
        if not env.get("REDIS_URL"):
            port = free_port()
            workdir = tempfile.mkdtemp(prefix="dashboard-test-redis-")
            # Not shown: pytest's output stays readable.
            redis = stack.start("redis", redis_command(port, Path(workdir)), env, echo=False)
            try:
                wait_for_port(port, timeout=15, child=redis)
            except StartFailed as exc:
                _report(redis, f"the embedded Redis did not start: {exc}")
                return 1
            env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            say(f"tests use an embedded Redis on 127.0.0.1:{port}")
        return subprocess.call([PYTHON, "-m", "pytest", *pytest_args], cwd=ROOT, env=env)
    finally:
        stack.stop()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    if argv[0] == "run":
        return run()
    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
