"""Load: 100 logged-in browsers polling live status for 60 s while operations run.

Each browser watches one server page (its in-progress operations' status partials, every
1.5 s, as htmx does). Reports requests, errors and latency, and the provider calls received
compared with the same window watched by a single browser. Targets: no errors, and no more
provider calls than with one browser (within one poll cycle).

    python bench/load_polling.py [--smoke]      (smoke: 20 browsers for 15 s)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    browsers_polling,
    running_stack,
    smoke_mode,
    start_creates,
    summary_ms,
)

SERVERS = 5
PER_SERVER = 4


def main() -> int:
    browsers, seconds = (20, 15) if smoke_mode() else (100, 60)
    with running_stack(create_seconds=3600) as stack:
        admin = stack.login()
        operations, servers = start_creates(stack, admin, servers=SERVERS, per_server=PER_SERVER)
        watch = [operations[i::SERVERS] for i in range(SERVERS)]
        sessions = [stack.login() for _ in range(browsers)]
        time.sleep(4)

        stack.reset_provider_calls()
        single = browsers_polling(stack, sessions=sessions[:1], watch=watch, seconds=seconds)
        calls_single = stack.provider_calls()

        stack.reset_provider_calls()
        crowd = browsers_polling(stack, sessions=sessions, watch=watch, seconds=seconds)
        calls_crowd = stack.provider_calls()

    rate = crowd.requests / seconds
    print(f"load: {browsers} browsers polling {len(operations)} operations on {len(servers)} "
          f"servers for {seconds} s")  # fmt: skip
    print(f"  status requests {crowd.requests} ({rate:.0f}/s), errors {crowd.errors}: "
          f"{'met' if crowd.errors == 0 else 'MISSED'} (target 0)")  # fmt: skip
    print(f"  latency         {summary_ms(crowd.latencies)}")
    print(f"  provider calls  {calls_crowd} with {browsers} browsers, {calls_single} with one "
          f"({single.requests} requests): "
          f"{'met' if calls_crowd <= calls_single + SERVERS else 'MISSED'} "
          f"(target: no more than one browser, within one poll cycle)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
