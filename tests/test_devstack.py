"""The processes `make run` starts (scripts/processes.py): stopped together, Redis last, those
that do not stop killed; one that dies on its own named with its last lines."""

from __future__ import annotations

import importlib.util
import signal
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """scripts/processes.py, loaded afresh (its stop flag unset), stopping within 3 s."""
    spec = importlib.util.spec_from_file_location("processes", ROOT / "scripts" / "processes.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "processes", module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "STOP_SECONDS", 3)
    return module


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_for(condition, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# Prints "ready", then on SIGTERM the time it got it and exits.
STOPS_ON_TERM = """
import signal, sys, time
def stop(*_):
    print("stopping at", time.time(), flush=True)
    time.sleep(0.3)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


def test_a_child_that_dies_is_named_with_its_last_lines(processes, capsys) -> None:
    stack = processes.Stack()
    sleeper = stack.start("sleeper", python(STOPS_ON_TERM), {})
    wait_for(lambda: list(sleeper.last_lines) == ["ready"])  # its SIGTERM handler is set
    crasher = stack.start(
        "crasher", python("import sys\nfor i in range(20): print('line', i)\nsys.exit(3)"), {}
    )
    wait_for(lambda: stack.first_exited() is not None)
    died = stack.first_exited()
    stack.stop()

    assert died is crasher
    assert crasher.describe_exit() == "exited with code 3"
    assert list(crasher.last_lines) == [f"line {i}" for i in range(5, 20)]
    assert sleeper.process.returncode == 0  # it was asked to stop, and did
    shown = capsys.readouterr().out
    assert "crasher   | line 19" in shown
    assert "[devstack] stopping sleeper" in shown


def test_redis_is_stopped_after_the_others(processes) -> None:
    stack = processes.Stack()
    redis = stack.start("redis", python(STOPS_ON_TERM), {})
    worker = stack.start("worker", python(STOPS_ON_TERM), {})
    wait_for(lambda: list(redis.last_lines) == list(worker.last_lines) == ["ready"])
    stack.stop()

    def stopped_at(child) -> float:  # type: ignore[no-untyped-def]
        return float(child.last_lines[-1].split()[-1])

    assert stopped_at(redis) - stopped_at(worker) >= 0.3  # the worker had finished stopping


def test_a_child_that_ignores_sigterm_is_killed(processes, capsys) -> None:
    stack = processes.Stack()
    stubborn = stack.start(
        "stubborn",
        python(
            "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\ntime.sleep(60)"
        ),
        {},
    )
    wait_for(lambda: list(stubborn.last_lines) == ["ready"])
    started = time.monotonic()
    stack.stop()

    assert time.monotonic() - started < processes.STOP_SECONDS + 1
    assert stubborn.process.returncode == -signal.SIGKILL
    assert stubborn.describe_exit() == "was killed by SIGKILL"
    assert "stubborn did not stop in time; killing it" in capsys.readouterr().out
