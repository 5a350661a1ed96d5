"""Idle cost: what watching the fleet costs at the provider when nothing is in progress.

200 servers with 5 snapshots each (smoke: the same, a shorter window), the default budget
(120 a minute, 90 of it for background work), 1 then 20 browsers reloading the fleet page
every 3 s. Targets: provider calls a minute <= the background share, and the same for 20
browsers as for 1 (within one reading of the lists).

    python bench/idle_cost.py [--smoke]
"""

from __future__ import annotations

import math
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import running_stack, smoke_mode

BUDGET = 120
BACKGROUND = BUDGET - math.ceil(BUDGET * 0.25)


def reload_fleet(stack, sessions, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds

    def browse(session) -> None:  # type: ignore[no-untyped-def]
        while time.monotonic() < deadline:
            session.get(f"{stack.web_url}/", timeout=60)
            time.sleep(3)

    threads = [threading.Thread(target=browse, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> int:
    seconds = 40 if smoke_mode() else 180
    with running_stack(rate_limit=BUDGET, create_seconds=3600) as stack:
        stack.sim("POST", "_sim/seed/", {"servers": 200, "snapshots_per_server": 5})
        pages = sum(
            math.ceil(stack.api(path).json()["count"] / 50) for path in ("servers/", "snapshots/")
        )
        one = [stack.login()]
        twenty = [stack.login() for _ in range(20)]
        time.sleep(5)  # the first reading, made at log-in, is over
        results = {}
        for name, sessions in (("1 browser", one), ("20 browsers", twenty)):
            stack.reset_provider_calls()
            reload_fleet(stack, sessions, seconds)
            results[name] = stack.provider_calls() * 60 / seconds

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(
        f"idle cost: 206 servers, lists of {pages} pages, nothing in progress, budget "
        f"{BUDGET}/min ({BACKGROUND} background), {seconds} s a window"
    )
    for name, per_minute in results.items():
        print(
            f"  {name:12}: {per_minute:5.1f} calls a minute (target <= {BACKGROUND}): "
            f"{verdict(per_minute <= BACKGROUND)}"
        )
    difference = abs(results["20 browsers"] - results["1 browser"]) * seconds / 60
    print(
        f"  20 browsers - 1 browser = {difference:.0f} calls over the window (target: within "
        f"one reading, {pages} pages): {verdict(difference <= pages)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
