"""Page latency against provider latency (issue: pages that do not wait for the provider).

The simulator holds 200 servers with 5 snapshots each and answers every call 300 ms late.
The logged-in fleet page and a server page are timed warm, beside the provider's own list
call in the same run. Targets: fleet p50 <= 30 ms and <= 0.1 x the provider's p50.

    python bench/page_latency.py [--smoke]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import percentile, running_stack, smoke_mode, summary_ms

SERVERS = 200
LATENCY_MS = 300


def timed(call, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        durations.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return durations


def main() -> int:
    requests_per_page = 30 if smoke_mode() else 200
    provider_calls = 5 if smoke_mode() else 20
    with running_stack(worker=False) as stack:
        stack.sim("POST", "_sim/seed/", {"servers": SERVERS, "snapshots_per_server": 5})
        stack.set_latency(LATENCY_MS)
        session = stack.login()
        some_server = stack.api("servers/?page=2").json()["results"][0]["id"]
        session.get(f"{stack.web_url}/", timeout=120)  # fills the cache: the one cold load
        session.get(f"{stack.web_url}/servers/{some_server}/", timeout=120)

        fleet = timed(lambda: session.get(f"{stack.web_url}/", timeout=60), requests_per_page)
        server = timed(
            lambda: session.get(f"{stack.web_url}/servers/{some_server}/", timeout=60),
            requests_per_page,
        )
        provider = timed(lambda: stack.api(f"snapshots/?server_id={some_server}"), provider_calls)

    fleet_p50, provider_p50 = percentile(fleet, 0.5), percentile(provider, 0.5)
    ratio = fleet_p50 / provider_p50
    print(f"page latency, {SERVERS} servers x 5 snapshots, provider +{LATENCY_MS} ms per call")
    print(f"  fleet page        {summary_ms(fleet)}")
    print(f"  server page       {summary_ms(server)}")
    print(f"  provider list     {summary_ms(provider)}")
    print(f"  fleet p50 {fleet_p50 * 1000:.1f} ms (target <= 30 ms): "
          f"{'met' if fleet_p50 <= 0.030 else 'MISSED'}")  # fmt: skip
    print(f"  fleet p50 / provider p50 = {ratio:.3f} (target <= 0.1): "
          f"{'met' if ratio <= 0.1 else 'MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
