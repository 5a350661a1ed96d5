"""`make run` from a fresh clone, as a newcomer runs it: the banner with the log-in is the last
thing printed, the console stays quiet while nobody uses the dashboard, Ctrl-C stops every
process; a process that dies on its own stops the others and is named with its last lines.

Each run's console is saved as ``test-artifacts/make-run-*.log``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
START_TIMEOUT = 300  # a first run on a slow machine: migrations, then five processes
IDLE_SECONDS = 30
STOP_SECONDS = 10
BANNER_END = "  stop       Ctrl-C"
# Set by whoever runs the tests; `make run` must use its embedded defaults here, and run as a
# make of its own, not one nested in `make test`.
NOT_INHERITED = {
    "DATABASE_URL", "REDIS_URL", "CACHE_REDIS_URL", "CELERY_BROKER_URL", "VPS_API_BASE_URL",
    "LOG_LEVEL", "DJANGO_ENV", "DEBUG", "DASHBOARD_ADMIN_USER", "DASHBOARD_ADMIN_PASSWORD",
    "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES",
}  # fmt: skip


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree as a fresh clone has it: tracked and new files, no database, no .run;
    its .venv is the one running these tests (files keep their times, so make installs
    nothing)."""
    venv = Path(sys.prefix)
    if not (venv / "pyvenv.cfg").exists():
        pytest.skip("make run needs the tests to run in the project's virtualenv (.venv)")
    target = tmp_path_factory.mktemp("fresh-clone")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    for name in listed:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    (target / ".venv").symlink_to(venv)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MakeRun:
    process: subprocess.Popen[bytes]
    console: Path
    clone: Path
    port: int

    def lines(self) -> list[str]:
        return self.console.read_text(errors="replace").splitlines()

    def wait_for_banner(self) -> list[str]:
        deadline = time.monotonic() + START_TIMEOUT
        while BANNER_END not in self.lines():
            assert self.process.poll() is None, "make run ended:\n" + "\n".join(self.lines())
            assert time.monotonic() < deadline, "no banner:\n" + "\n".join(self.lines()[-40:])
            time.sleep(0.5)
        time.sleep(0.5)  # the banner's last line
        return self.lines()

    def wait(self, timeout: float) -> float:
        """Seconds until make exited."""
        started = time.monotonic()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise
        return time.monotonic() - started

    def processes_left(self) -> list[str]:
        """Processes whose command line points into the clone (every one `make run` starts)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if str(self.clone) in cmdline:
                    found.append(f"{entry.name}: {cmdline.strip()}")
        return found


@pytest.fixture
def make_run(clone: Path, request: pytest.FixtureRequest) -> Iterator[MakeRun]:
    ARTIFACTS.mkdir(exist_ok=True)
    console = ARTIFACTS / f"make-run-{request.node.name}.log"
    ports = {"PORT": free_port(), "VPS_SIM_PORT": free_port(), "REDIS_EMBEDDED_PORT": free_port()}
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env |= {name: str(number) for name, number in ports.items()}
    with console.open("wb") as output:
        # A session of its own, like a terminal's foreground job: Ctrl-C reaches its group.
        process = subprocess.Popen(
            ["make", "run"], cwd=clone, env=env, stdout=output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    run = MakeRun(process=process, console=console, clone=clone, port=ports["PORT"])
    yield run
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def log_in(port: int, user: str, password: str) -> str:
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the log-in page"
    response = session.post(
        f"{base}/login/",
        data={"username": user, "password": password, "csrfmiddlewaretoken": token[1]},
        headers={"Referer": f"{base}/login/"},
        timeout=30,
    )
    return response.text


def test_make_run_on_a_fresh_clone(make_run: MakeRun) -> None:
    shown = make_run.wait_for_banner()
    created = re.search(r"Created user 'admin' with password '([^']+)'", "\n".join(shown))
    assert created, "no password was generated:\n" + "\n".join(shown)
    password = created[1]
    last_lines = shown[-10:]
    assert any(password in line for line in last_lines), "\n".join(last_lines)
    assert f"http://127.0.0.1:{make_run.port}/" in "\n".join(last_lines)

    time.sleep(IDLE_SECONDS)
    idle = make_run.lines()[len(shown) :]
    assert len(idle) < 5, "while idle:\n" + "\n".join(idle)

    assert "web-server-01" in log_in(make_run.port, "admin", password)
    before_stop = len(make_run.lines())
    os.killpg(make_run.process.pid, signal.SIGINT)
    stopped_in = make_run.wait(timeout=STOP_SECONDS)
    left = make_run.processes_left()

    on_stop = make_run.lines()[before_stop:]
    print(
        f"{len(idle)} lines in {IDLE_SECONDS} idle seconds; stopped {stopped_in:.1f} s after Ctrl-C"
    )
    assert left == []
    assert stopped_in < STOP_SECONDS
    assert on_stop[-1] == "[devstack] stopped"
    problems = [
        line for line in on_stop if re.search(r"Traceback|\bERROR\b|\bError\b|\*\*\*", line)
    ]
    assert problems == [], "\n".join(on_stop)


def test_a_process_that_dies_stops_the_rest_and_is_named(make_run: MakeRun) -> None:
    make_run.wait_for_banner()
    beat = next(entry for entry in make_run.processes_left() if " beat " in entry)

    os.kill(int(beat.split(":", 1)[0]), signal.SIGKILL)
    make_run.wait(timeout=STOP_SECONDS + 5)

    shown = make_run.lines()
    report = shown.index(
        "[devstack] stopped everything because beat was killed by SIGKILL; its last lines:"
    )
    assert shown[report + 1].startswith("beat      | ")
    assert shown[-2] == "[devstack] stopped"
    assert shown[-1].startswith("make: *** ")  # make says that its command failed
    assert make_run.processes_left() == []
    assert make_run.process.returncode != 0
