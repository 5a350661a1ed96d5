"""One nightly schedule over 1,000 servers, all due at the same minute.

The whole stack (web, worker, beat, Redis, the simulator enforcing the provider's limit) with
1,000 servers of two snapshots each (smoke: 100). A schedule on ``srv-*`` is due at the next
minute with a window of W minutes. Targets: every run done inside its window; no 60-second
window with more calls than the budget and no 429; the scheduler's tick costing the same
whether 10 or 10,000 schedules are not due.

The budget and the window are scaled together so the run takes minutes, not an hour: what
matters is their ratio (runs to start per minute of budget), printed with the figures.

    python bench/schedule_fleet.py [--smoke]
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import epoch_seconds, running_stack, sample_calls, smoke_mode, worst_window

MAKE_SCHEDULE = """
from snapshots_ui import schedules
from snapshots_ui.audit import Actor
from snapshots_ui.models import Schedule
nightly = Schedule(name="nightly", server_pattern="srv-*", cron="{cron}", keep_newest=3,
                   window_minutes={window})
schedule = schedules.schedule_save(actor=Actor(user=None, ip=None, label="bench"), schedule=nightly)
print(schedule.next_run_at.isoformat())
"""

TICK_COST = """
import statistics, time
from datetime import timedelta
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from snapshots_ui import schedules
from snapshots_ui.models import Schedule
later = timezone.now() + timedelta(hours=6)
for total in (10, 1000, 10000):
    have = Schedule.objects.filter(name__startswith="later-").count()
    Schedule.objects.bulk_create(
        [Schedule(name=f"later-{n}", server_pattern="srv-*", cron="0 3 * * *", next_run_at=later)
         for n in range(have, total)], batch_size=1000)
    if connection.vendor == "postgresql":  # as autovacuum would, after a bulk insert
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE snapshots_ui_schedule")
    timings = []
    for _ in range(300):
        started = time.perf_counter()
        schedules.schedules_tick(now=timezone.now())
        timings.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        schedules.schedules_tick(now=timezone.now())
    print(total, statistics.median(timings) * 1000, len(queries))
Schedule.objects.filter(name__startswith="later-").delete()
"""


def cron_for_next_minute() -> str:
    moment = datetime.now(tz=UTC) + timedelta(minutes=1)
    return f"{moment.minute} {moment.hour} * * *"


def wait_for_runs(stack, servers: int, until: float) -> list[tuple]:  # type: ignore[no-untyped-def]
    """The runs, once all have ended (or ``until`` has passed)."""
    while True:
        runs = stack.query(
            "SELECT r.state, r.deadline, w.finished_at, r.reason FROM snapshots_ui_schedulerun r "
            "LEFT JOIN snapshots_ui_workflow w ON w.id = r.workflow_id"
        )
        ended = [run for run in runs if run[0] not in ("pending", "running")]
        if (len(runs) == servers and len(ended) == servers) or time.monotonic() > until:
            return runs
        time.sleep(2)


def main() -> int:
    servers, budget, window, create_seconds = (
        (100, 300, 3, 10) if smoke_mode() else (1000, 600, 10, 30)
    )
    with running_stack(
        rate_limit=budget, create_seconds=create_seconds, page_size=100,
        extra_env={"VPS_SIM_RATE_LIMIT": str(budget), "VPS_LIFECYCLE_TICK_SECONDS": "2"},
    ) as stack:  # fmt: skip
        stack.sim("POST", "_sim/seed/", {"servers": servers, "snapshots_per_server": 2})
        due = stack.manage_shell(MAKE_SCHEDULE.format(cron=cron_for_next_minute(), window=window))
        print(f"  schedule due at {due.strip()}, window {window} min", flush=True)
        stack.reset_provider_calls()
        samples: list[tuple[float, int]] = []
        watch_seconds = 75 + window * 60 + 60
        sampler = threading.Thread(target=sample_calls, args=(stack, watch_seconds, samples))
        sampler.start()
        runs = wait_for_runs(stack, servers, until=time.monotonic() + watch_seconds)
        sampler.join()
        throttled = stack.sim("GET", "_sim/stats/")["throttled"]
        tick_cost = [line.split() for line in stack.manage_shell(TICK_COST).splitlines()]

    succeeded = [run for run in runs if run[0] == "succeeded"]
    in_window = [
        run for run in succeeded
        if run[2] is not None and epoch_seconds(run[2]) <= epoch_seconds(run[1])
    ]  # fmt: skip
    worst = worst_window(samples)
    costs = {int(total): (float(ms), int(queries)) for total, ms, queries in tick_cost}

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(
        f"schedule over a fleet: {servers} servers, one nightly schedule due at one minute, "
        f"window {window} min, budget VPS_API_RATE_LIMIT={budget}/min "
        f"({servers / window:.0f} runs to start a minute of window)"
    )
    print(
        f"  runs {len(runs)}, succeeded {len(succeeded)}, done inside the window "
        f"{len(in_window)} (target all {servers}): {verdict(len(in_window) == servers)}"
    )
    others = sorted({(run[0], run[3][:80]) for run in runs if run[0] != "succeeded"})
    for state, reason in others[:5]:
        print(f"    {state}: {reason}")
    print(f"  busiest 60 s window {worst} calls (target <= {budget}): {verdict(worst <= budget)}")
    print(f"  answers 429 {throttled} (target 0): {verdict(throttled == 0)}")
    small, large = costs[10], costs[10000]
    print(
        "  tick with nothing due: "
        + ", ".join(f"{n} schedules {ms:.2f} ms / {q} queries" for n, (ms, q) in costs.items())
    )
    print(
        f"  tick cost 10,000 vs 10 schedules not due: x{large[0] / small[0]:.2f} time, "
        f"{large[1]} vs {small[1]} queries (target: same queries, time within noise): "
        f"{verdict(large[1] == small[1] and large[0] / small[0] < 2)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
