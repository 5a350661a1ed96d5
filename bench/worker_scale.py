"""One Celery worker following 1,000 operations on 200 servers (issue: scale).

The simulator holds 200 servers, each with 5 snapshots being created (they stay in progress
for the whole run), and answers every call 50 ms late. The dashboard follows one operation
per snapshot: 1,000 in progress. The snapshots are started at the simulator's API and the
operation rows written through the ORM, as the create form would leave them, so the set-up
takes seconds rather than a thousand form posts. Then the stack's one worker (2 processes)
follows them for the measured window, and the benchmark reads, several times a second, when
each operation was last checked. Target: every operation refreshed at least every 2 s.

    python bench/worker_scale.py [--smoke]
"""

from __future__ import annotations

import itertools
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import epoch_seconds, percentile, provider_list, running_stack, smoke_mode

SERVERS = 200
PER_SERVER = 5
LATENCY_MS = 50
TARGET_SECONDS = 2.0
# Written with the stack's settings: one in-progress create per snapshot at the simulator.
WRITE_OPERATIONS = """
import json, sys
from snapshots_ui.models import Operation, OperationKind
from snapshots_ui.statuses import OperationState
rows = json.load(sys.stdin)
Operation.objects.bulk_create(
    Operation(
        kind=OperationKind.CREATE, state=OperationState.IN_PROGRESS,
        server_id=row["server"]["id"], server_name=row["server"]["name"],
        snapshot_id=row["id"], snapshot_name=row["name"], requested_by_name="bench",
    )
    for row in rows
)
print(Operation.objects.active().count())
"""


def main() -> int:
    import json

    seconds = 15 if smoke_mode() else 60
    with running_stack(create_seconds=24 * 3600) as stack:
        stack.sim("POST", "_sim/seed/", {"servers": SERVERS, "snapshots_per_server": 0})
        servers = provider_list(stack, "servers/")[-SERVERS:]

        def start(server: dict, n: int) -> None:  # type: ignore[type-arg]
            body = {"server_id": server["id"], "name": f"scale-{server['id']}-{n}"}
            stack.sim("POST", "api/v1/snapshots/", body)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda job: start(*job), [(s, n) for s in servers for n in range(5)]))
        snapshots = [
            s for s in provider_list(stack, "snapshots/") if s["name"].startswith("scale-")
        ]
        stack.set_latency(LATENCY_MS)
        written = stack.manage_shell(WRITE_OPERATIONS, stdin=json.dumps(snapshots)).split()[-1]
        assert int(written) == SERVERS * PER_SERVER, written

        time.sleep(5)  # the first sweeps, the worker's pool warming up
        stack.reset_provider_calls()
        checks: dict[int, set[float]] = defaultdict(set)
        samples = 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            for pk, checked_at in stack.query(
                "SELECT id, last_checked_at FROM snapshots_ui_operation"
                " WHERE state IN ('in_progress', 'stuck')"
            ):
                if checked_at is not None:
                    checks[pk].add(epoch_seconds(checked_at))
            samples += 1
            time.sleep(0.1)
        window = time.monotonic() - started
        calls = stack.sim("GET", "_sim/stats/")
        stack.set_latency(0)
        active = stack.query(
            "SELECT COUNT(*) FROM snapshots_ui_operation WHERE state IN ('in_progress', 'stuck')"
        )[0][0]

    gaps: list[float] = []
    for values in checks.values():
        moments = sorted(values)
        gaps += [later - earlier for earlier, later in itertools.pairwise(moments)]
    refreshes = sum(len(v) for v in checks.values())
    print(
        f"worker scale: {SERVERS} servers x {PER_SERVER} creates in progress, provider "
        f"+{LATENCY_MS} ms per call, one worker (2 processes), {window:.0f} s observed "
        f"({samples} readings)"
    )
    print(f"  operations followed {len(checks)}, still in progress at the end {active}")
    print(f"  checks seen {refreshes} ({refreshes / window:.0f} operations refreshed per second)")
    print(
        f"  interval between checks of an operation: p50 {percentile(gaps, 0.5):.2f} s   "
        f"p95 {percentile(gaps, 0.95):.2f} s   p99 {percentile(gaps, 0.99):.2f} s   "
        f"max {max(gaps):.2f} s   (n={len(gaps)})"
    )
    print(
        f"  provider calls {calls['calls']} in {window:.0f} s "
        f"({calls['calls'] / window:.1f}/s): {calls['by_endpoint']}"
    )
    worst = max(gaps)
    print(
        f"  every operation refreshed at least every {TARGET_SECONDS:.0f} s (worst interval "
        f"{worst:.2f} s): {'met' if worst <= TARGET_SECONDS else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
