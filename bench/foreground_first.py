"""Foreground first: a person's create is not held up by background work using its share.

40 servers with a create each in progress keep the polls going at the rate the background
share allows (60 a minute, 45 of it background); once a minute of that background work alone
has passed, a person starts a create on another server every 4 s (smoke: 5 of them,
otherwise 30). Target: each create reaches the provider within 1 s (p95), measured as the
whole create request's duration, with the time its calls waited for a budget slot taken from
the dashboard's own metrics.

    python bench/foreground_first.py [--smoke]
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import percentile, provider_list, running_stack, smoke_mode, start_creates

BUDGET = 60


def foreground_waits(stack) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(calls that waited, seconds waited) by foreground calls, from /metrics."""
    text = stack.metrics()
    count = re.search(r'dashboard_provider_budget_waits_total\{class="foreground"\} (\S+)', text)
    seconds = re.search(
        r'dashboard_provider_budget_wait_seconds_total\{class="foreground"\} (\S+)', text
    )
    return float(count[1]) if count else 0.0, float(seconds[1]) if seconds else 0.0


def main() -> int:
    # A full window after the set-up clicks: only background work is left in it.
    clicks, warm_up = (5, 65) if smoke_mode() else (30, 65)
    with running_stack(
        rate_limit=BUDGET, create_seconds=3600, extra_env={"METRICS_ALLOW_IPS": "127.0.0.1"}
    ) as stack:
        admin = stack.login()
        start_creates(stack, admin, servers=40, per_server=1)  # background work to do
        before = {s["id"] for s in provider_list(stack, "servers/")}
        stack.sim("POST", "_sim/seed/", {"servers": clicks, "snapshots_per_server": 0})
        targets = sorted({s["id"] for s in provider_list(stack, "servers/")} - before)
        time.sleep(warm_up)  # background polling fills its share
        waits_before = foreground_waits(stack)
        durations, refused = [], 0
        for server_id in targets:
            started = time.monotonic()
            answer = admin.post(
                f"{stack.web_url}/servers/{server_id}/snapshots/",
                data={"name": "person", "description": ""}, allow_redirects=False, timeout=60,
            )  # fmt: skip
            durations.append(time.monotonic() - started)
            refused += answer.status_code != 302
            time.sleep(4)
        waits_after = foreground_waits(stack)
        background_used = stack.metrics_value("dashboard_provider_budget_used")

    waited_calls = waits_after[0] - waits_before[0]
    waited_seconds = waits_after[1] - waits_before[1]
    p95 = percentile(durations, 0.95)

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(
        f"foreground first: budget {BUDGET}/min, 40 creates followed in the background "
        f"(budget used in the last minute: {background_used:.0f}), {clicks} creates by a person"
    )
    print(
        f"  create requests: p50 {percentile(durations, 0.5) * 1000:.0f} ms, p95 "
        f"{p95 * 1000:.0f} ms (target <= 1 s): {verdict(p95 <= 1)}; refused {refused}"
    )
    print(
        f"  foreground calls that waited for a slot: {waited_calls:.0f}, "
        f"{waited_seconds:.2f} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
