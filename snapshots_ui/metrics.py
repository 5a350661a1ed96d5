"""Numbers for operators: a Prometheus endpoint and the Admins' provider page.

Everything is read when asked for: the provider-call counts from Redis (every web and worker
process adds to them, ``provider.telemetry``), the budget's state, and the database for the
operations in progress.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from snapshots_ui.fleet_cache import fleet_stored_age
from snapshots_ui.models import Operation
from snapshots_ui.provider import budget, telemetry


class DashboardCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        calls, latency, waits = telemetry.totals()
        yield from _provider_calls(calls)
        yield _latency(latency)
        yield from _budget(waits)
        yield from _operations()
        yield from _queue_and_lists()


def _provider_calls(calls: dict[str, float]) -> Iterator[Metric]:
    family = CounterMetricFamily(
        "dashboard_provider_calls", "Calls to the provider", labels=["endpoint", "status"]
    )
    throttled = 0.0
    for key, value in sorted(calls.items()):
        endpoint, _, status = key.rpartition(" ")
        family.add_metric([endpoint, status], value)
        throttled += value if status == "429" else 0
    yield family
    yield CounterMetricFamily(
        "dashboard_provider_throttled", "Answers 429 (slow down) from the provider", throttled
    )


def _latency(latency: dict[str, float]) -> Metric:
    cumulative, buckets = 0.0, []
    for bound in telemetry.bucket_bounds():
        cumulative += latency.get(bound, 0.0)
        buckets.append((bound, cumulative))
    return HistogramMetricFamily(
        "dashboard_provider_latency_seconds",
        "How long the provider took to answer",
        buckets=buckets,
        sum_value=latency.get("sum", 0.0),
    )


def _budget(waits: dict[str, float]) -> Iterator[Metric]:
    usage = budget.usage()
    for name, help_text, value in (
        ("dashboard_provider_budget_per_minute", "The provider budget", usage.limits.per_minute),
        ("dashboard_provider_budget_used", "Calls in the last 60 s", usage.calls),
        ("dashboard_provider_budget_left", "Calls left in the 60 s window", usage.left),
        ("dashboard_provider_paused_seconds", "Seconds left of a 429 pause", budget.paused_for()),
    ):
        yield GaugeMetricFamily(name, help_text, value=value)
    count = CounterMetricFamily(
        "dashboard_provider_budget_waits", "Calls that waited for a slot", labels=["class"]
    )
    seconds = CounterMetricFamily(
        "dashboard_provider_budget_wait_seconds", "Time spent waiting for slots", labels=["class"]
    )
    for kind in (budget.FOREGROUND, budget.BACKGROUND):
        count.add_metric([kind], waits.get(f"{kind}:count", 0.0))
        seconds.add_metric([kind], waits.get(f"{kind}:seconds", 0.0))
    yield count
    yield seconds


def _operations() -> Iterator[Metric]:
    in_progress = GaugeMetricFamily(
        "dashboard_operations_in_progress", "Operations being followed", labels=["kind"]
    )
    counts = dict(Operation.objects.active().values_list("kind").annotate(n=Count("id")))
    for kind in sorted({"create", "restore", "delete", *counts}):
        in_progress.add_metric([kind], counts.get(kind, 0))
    yield in_progress
    oldest = Operation.objects.active().aggregate(
        oldest=Min(Coalesce("last_checked_at", "started_at"))
    )["oldest"]
    lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    yield GaugeMetricFamily(
        "dashboard_poll_lag_seconds", "Age of the least recently checked operation", value=lag
    )


def _queue_and_lists() -> Iterator[Metric]:
    try:
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
        queued = float(broker.llen("celery"))
    except redis.RedisError:
        queued = float("nan")
    yield GaugeMetricFamily("dashboard_celery_queue_length", "Tasks waiting", value=queued)
    age = fleet_stored_age()
    yield GaugeMetricFamily(
        "dashboard_provider_lists_age_seconds",
        "Age of the stored server and snapshot lists",
        value=age if age is not None else float("nan"),
    )


def registry() -> CollectorRegistry:
    collected = CollectorRegistry(auto_describe=False)
    collected.register(DashboardCollector())
    return collected


def metrics_allowed(*, address: str | None, authorization: str) -> bool:
    """The scraper's address is in ``METRICS_ALLOW_IPS`` or it sends ``METRICS_TOKEN``."""
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOW_IPS)


@dataclass(frozen=True)
class Minute:
    at: datetime
    calls: int
    errors: int
    throttled: int
    latency_ms: float | None


def provider_last_hour() -> list[Minute]:
    """Calls, errors and mean latency for each of the last 60 minutes, oldest first."""
    rows = []
    for minute, counts in telemetry.minutes(60):
        calls = int(counts.get("calls", 0))
        rows.append(
            Minute(
                at=datetime.fromtimestamp(minute * 60, tz=UTC),
                calls=calls,
                errors=int(counts.get("errors", 0)),
                throttled=int(counts.get("throttled", 0)),
                latency_ms=counts.get("latency_sum", 0) * 1000 / calls if calls else None,
            )
        )
    return rows
