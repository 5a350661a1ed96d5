"""The provider-call budget: calls must not grow with viewers or with operations.

Counts the calls the simulator receives over a window with (a) nothing in progress and 1,
then 10 browsers reloading the fleet page; (b) 20 operations in progress on 5 servers and 1
browser; (c) the same with 10 browsers; (d) 20 more servers with one operation each, 10
browsers (past ``VPS_POLL_SWEEP_SERVERS``: one sweep of the account-wide lists per cycle).
Targets: (a) no more than one refresh per cache period, the same with 10 browsers as with 1;
(c) the same as (b); polling calls per cycle bounded by the servers with work in progress,
or (d) by the pages of the account-wide lists.

    python bench/provider_budget.py [--smoke]
"""

from __future__ import annotations

import math
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    browsers_polling,
    running_stack,
    smoke_mode,
    start_creates,
)

CACHE_SECONDS = 15
POLL_SECONDS = 1  # the default period (VPS_POLL_SECONDS)
PAGE_SIZE = 50  # the simulator's (VPS_SIM_PAGE_SIZE)


def reloading_browsers(stack, sessions, seconds: float, every: float = 3.0) -> int:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    pages = [0]

    def browse(session) -> None:  # type: ignore[no-untyped-def]
        while time.monotonic() < deadline:
            session.get(f"{stack.web_url}/", timeout=60)
            pages[0] += 1
            time.sleep(every)

    threads = [threading.Thread(target=browse, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return pages[0]


def window(stack, action) -> int:  # type: ignore[no-untyped-def]
    stack.reset_provider_calls()
    action()
    return stack.provider_calls()


def main() -> int:
    seconds = 20 if smoke_mode() else 60
    with running_stack(
        create_seconds=3600, cache_seconds=CACHE_SECONDS, poll_seconds=POLL_SECONDS
    ) as stack:
        admin = stack.login()
        admin.get(f"{stack.web_url}/", timeout=60)
        # Logging in happens before each window: only the browsing is counted.
        one, ten = [stack.login()], [stack.login() for _ in range(10)]
        idle_1 = window(stack, lambda: reloading_browsers(stack, one, seconds))
        idle_10 = window(stack, lambda: reloading_browsers(stack, ten, seconds))
        operations, servers = start_creates(stack, admin, servers=5, per_server=4)
        watch = [operations[i::5] for i in range(5)]
        time.sleep(POLL_SECONDS * 2)
        busy_1 = window(
            stack,
            lambda: browsers_polling(stack, sessions=one, watch=[operations], seconds=seconds),
        )
        busy_10 = window(
            stack, lambda: browsers_polling(stack, sessions=ten, watch=watch, seconds=seconds)
        )
        # Twenty more servers with work: past VPS_POLL_SWEEP_SERVERS, one sweep of the
        # account-wide lists replaces the per-server polls.
        more, more_servers = start_creates(stack, admin, servers=20, per_server=1)
        time.sleep(POLL_SECONDS * 2)
        swept = [[*ops, more[i]] for i, ops in enumerate(watch * 4)]
        sweep_10 = window(
            stack, lambda: browsers_polling(stack, sessions=ten, watch=swept, seconds=seconds)
        )
        list_pages = sum(
            math.ceil(stack.api(path).json()["count"] / PAGE_SIZE)
            for path in ("snapshots/", "servers/")
        )

    # One refresh per cache period the window touches (a window need not start on a period).
    refreshes_allowed = math.ceil(seconds / CACHE_SECONDS) + 1
    cycles = seconds / POLL_SECONDS
    one_cycle = len(servers)

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(
        f"provider calls over {seconds:.0f} s "
        f"(cache {CACHE_SECONDS} s, poll every {POLL_SECONDS} s)"
    )
    print(f"  (a) nothing in progress,  1 browser : {idle_1:4d} calls")
    print(
        f"  (a) nothing in progress, 10 browsers: {idle_10:4d} calls; target <= "
        f"{refreshes_allowed} refreshes ({refreshes_allowed * 2} calls): "
        f"{verdict(idle_10 <= refreshes_allowed * 2)}"
    )
    print(
        f"  (b) {len(operations)} operations on {len(servers)} servers,  1 browser : {busy_1:4d} "
        f"calls = {busy_1 / cycles:.1f} per poll cycle; bound {len(servers)} servers + "
        f"refreshes: {verdict(busy_1 <= cycles * len(servers) + refreshes_allowed * 2)}"
    )
    print(
        f"  (c) {len(operations)} operations on {len(servers)} servers, 10 browsers: {busy_10:4d} "
        f"calls; (c) - (b) = {busy_10 - busy_1:+d}, target 0 within one poll cycle "
        f"(±{one_cycle}): {verdict(abs(busy_10 - busy_1) <= one_cycle)}"
    )
    busy_servers = len(servers) + len(more_servers)
    print(
        f"  (d) {len(operations) + len(more)} operations on {busy_servers} servers, 10 browsers: "
        f"{sweep_10:4d} calls = {sweep_10 / cycles:.1f} per poll cycle; bound: the lists' "
        f"{list_pages} pages, not {busy_servers} servers: "
        f"{verdict(sweep_10 <= cycles * list_pages + refreshes_allowed * 2)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
