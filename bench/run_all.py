"""Run every benchmark in bench/ in turn and print their figures (`make bench`).

BENCH_SMOKE=1 runs each briefly, as CI does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "page_latency.py",  # 1. page vs provider latency
    "propagation.py",  # 2. status propagation to an open page
    "provider_budget.py",  # 3. provider-call budget
    "throughput.py",  # 4. status partial vs a bare view
    "fleet_scale.py",  # 5. fleet page at 50, 200, 1000 servers
    "worker_scale.py",  # 5. one worker, 1,000 operations on 200 servers
    "load_polling.py",  # 100 browsers polling
    "cold_start.py",  # 6. the first page of a large fleet behind a slow provider
    "budget_held.py",  # 6. the provider budget held through a busy stretch
    "idle_cost.py",  # 6. what watching an idle fleet costs
    "foreground_first.py",  # 6. a person's create does not wait behind background work
    "schedule_fleet.py",  # lifecycle: one nightly schedule over 1,000 servers
    "notify_delivery.py",  # notifications under a receiver failing half its requests
]


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"=== {name}", flush=True)
        started = time.monotonic()
        if subprocess.call([sys.executable, str(HERE / name)]) != 0:
            failed.append(name)
        print(f"=== {name}: {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
