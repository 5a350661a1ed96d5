"""Smoke test of `make run` on its embedded defaults, as a newcomer would use it.

Starts `make run` twice in a row; each time waits for the login page, logs in over HTTP, checks
that the fleet page lists the simulator's servers, then stops it (the first time with Ctrl-C,
the second with SIGTERM) and checks that no process it started is left running.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("PORT", "8000"))
BASE = f"http://127.0.0.1:{PORT}"
START_TIMEOUT = 300
STOP_TIMEOUT = 40


def leftover_processes() -> list[str]:
    """Processes other than this one whose command line points into the project."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(ROOT) in cmdline and "smoke_run.py" not in cmdline:
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


def wait_for_login_page(process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"make run exited early with code {process.returncode}")
        try:
            if requests.get(f"{BASE}/login/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SystemExit("the login page did not answer in time")


def log_in_and_see_servers(username: str, password: str) -> None:
    session = requests.Session()
    page = session.get(f"{BASE}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    response = session.post(
        f"{BASE}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token[1]},
        headers={"Referer": f"{BASE}/login/"},
        timeout=30,
    )
    assert response.status_code == 200, response.status_code
    assert response.url.rstrip("/") == BASE, f"not logged in: ended at {response.url}"
    assert "web-server-01" in response.text, "the fleet page does not list the simulator's servers"
    print(f"logged in as {username} and saw the simulator's servers")


def run_once(stop_signal: signal.Signals, log_path: Path) -> None:
    username = f"smoke-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "VPS_API_BASE_URL", "CACHE_REDIS_URL"}
    }
    env |= {"DASHBOARD_ADMIN_USER": username, "DASHBOARD_ADMIN_PASSWORD": password}
    with log_path.open("wb") as log:
        # Its own process group, like a terminal's foreground job that Ctrl-C reaches.
        process = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_for_login_page(process)
            log_in_and_see_servers(username, password)
        finally:
            os.killpg(process.pid, stop_signal)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise SystemExit(f"make run did not stop within {STOP_TIMEOUT} s") from None
    time.sleep(1)
    left = leftover_processes()
    if left:
        raise SystemExit("processes left running after make run stopped:\n" + "\n".join(left))
    print(f"stopped with {stop_signal.name}; no process left running")


def main() -> int:
    log_dir = ROOT / "test-artifacts"
    log_dir.mkdir(exist_ok=True)
    try:
        run_once(signal.SIGINT, log_dir / "make-run-1.log")
        run_once(signal.SIGTERM, log_dir / "make-run-2.log")
    except (SystemExit, AssertionError) as failure:
        print(f"smoke run FAILED: {failure}", file=sys.stderr)
        for name in ("make-run-1.log", "make-run-2.log"):
            path = log_dir / name
            if path.exists():
                print(f"--- {name} (last 60 lines)", file=sys.stderr)
                print(
                    "\n".join(path.read_text(errors="replace").splitlines()[-60:]), file=sys.stderr
                )
        return 1
    print("smoke run passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
