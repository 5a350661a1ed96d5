"""What every call to the provider cost: counted in Redis, so web and worker processes add up.

Read back by ``snapshots_ui.metrics`` (the Prometheus endpoint and the Admins' provider page).
Recording never fails a call: a Redis hiccup loses a count, nothing else.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable

import redis

from snapshots_ui.provider.budget import shared_redis

logger = logging.getLogger(__name__)

CALLS_KEY = "provider-metrics:calls"  # "<endpoint> <status>" -> count
LATENCY_KEY = "provider-metrics:latency"  # bucket upper bound (s), "sum", "count"
WAITS_KEY = "provider-metrics:waits"  # "<class>:count", "<class>:seconds"
MINUTE_PREFIX = "provider-metrics:minute:"  # one hash a minute, kept two hours
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
MINUTE_TTL = 2 * 60 * 60

_ID = re.compile(r"/\d+(?=/|$)")


def endpoint_of(method: str, path: str) -> str:
    """``GET snapshots/801/restore/`` -> ``GET /snapshots/{id}/restore/``."""
    path = "/" + path.lstrip("/")
    return f"{method} {_ID.sub('/{id}', path)}"


def _bucket(seconds: float) -> str:
    return next((f"{bound:g}" for bound in LATENCY_BUCKETS if seconds <= bound), "+Inf")


def record_call(*, endpoint: str, status: str, seconds: float, kind: str, waited: float) -> None:
    """One request: its endpoint, status (a code, or "error" for no answer), how long the
    provider took and how long the budget made it wait."""
    minute = f"{MINUTE_PREFIX}{int(time.time() // 60)}"
    failed = status == "error" or status.startswith(("4", "5"))
    try:
        pipe = shared_redis().pipeline(transaction=False)
        pipe.hincrby(CALLS_KEY, f"{endpoint} {status}", 1)
        pipe.hincrby(LATENCY_KEY, _bucket(seconds), 1)
        pipe.hincrbyfloat(LATENCY_KEY, "sum", seconds)
        pipe.hincrby(LATENCY_KEY, "count", 1)
        pipe.hincrby(WAITS_KEY, f"{kind}:count", 1 if waited > 0.001 else 0)
        pipe.hincrbyfloat(WAITS_KEY, f"{kind}:seconds", waited)
        pipe.hincrby(minute, "calls", 1)
        pipe.hincrby(minute, "errors", int(failed))
        pipe.hincrby(minute, "throttled", int(status == "429"))
        pipe.hincrbyfloat(minute, "latency_sum", seconds)
        pipe.expire(minute, MINUTE_TTL)
        pipe.execute()
    except redis.RedisError:
        logger.debug("provider call not counted", exc_info=True)


def minutes(last: int = 60) -> list[tuple[int, dict[str, float]]]:
    """(minute since the epoch, its counts) for the last ``last`` minutes, oldest first."""
    now = int(time.time() // 60)
    wanted = list(range(now - last + 1, now + 1))
    pipe = shared_redis().pipeline(transaction=False)
    for minute in wanted:
        pipe.hgetall(f"{MINUTE_PREFIX}{minute}")
    rows = pipe.execute()
    return [(minute, _numbers(row)) for minute, row in zip(wanted, rows, strict=True)]


def _numbers(row: dict[bytes, bytes]) -> dict[str, float]:
    return {key.decode(): float(value) for key, value in row.items()}


def totals() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """(calls by "<endpoint> <status>", latency buckets, waits) since counting began."""
    pipe = shared_redis().pipeline(transaction=False)
    for key in (CALLS_KEY, LATENCY_KEY, WAITS_KEY):
        pipe.hgetall(key)
    calls, latency, waits = pipe.execute()
    return _numbers(calls), _numbers(latency), _numbers(waits)


def bucket_bounds() -> Iterable[str]:
    return [f"{bound:g}" for bound in LATENCY_BUCKETS] + ["+Inf"]
