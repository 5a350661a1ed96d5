"""Health of what the dashboard depends on: database, cache, background worker, provider."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from snapshots_ui import provider

# The beat-driven dispatch task leaves its time here; the worker is "stale" past the maximum.
_HEARTBEAT_KEY = "worker:heartbeat"
_PROVIDER_HEALTH_KEY = "health:provider"


@dataclass(frozen=True)
class SystemHealth:
    database: str
    cache: str
    worker: str
    worker_heartbeat_age: float | None

    @property
    def healthy(self) -> bool:
        """The pages work without a worker, so only the database and the cache count."""
        return self.database == "ok" and self.cache == "ok"


def worker_heartbeat_touch() -> None:
    cache.set(_HEARTBEAT_KEY, timezone.now(), timeout=settings.WORKER_HEARTBEAT_MAX_AGE * 10)


def system_health() -> SystemHealth:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:
        database = "error"
    try:
        cache.set("health:ping", "1", timeout=5)
        cache_state = "ok" if cache.get("health:ping") == "1" else "error"
    except Exception:
        cache_state = "error"
    heartbeat = cache.get(_HEARTBEAT_KEY) if cache_state == "ok" else None
    age = (timezone.now() - heartbeat).total_seconds() if heartbeat else None
    fresh = age is not None and age < settings.WORKER_HEARTBEAT_MAX_AGE
    return SystemHealth(
        database=database,
        cache=cache_state,
        worker="ok" if fresh else "stale",
        worker_heartbeat_age=age,
    )


def health_report() -> tuple[dict[str, object], int]:
    """The body and status of ``/health/``: 503 when the database or the cache fails; a stale
    worker is reported but does not fail the check."""
    state = system_health()
    age = state.worker_heartbeat_age
    body: dict[str, object] = {
        "status": "ok" if state.healthy else "error",
        "checks": {"database": state.database, "cache": state.cache, "worker": state.worker},
        "worker_heartbeat_age_seconds": round(age, 1) if age is not None else None,
    }
    return body, 200 if state.healthy else 503


def provider_health() -> dict[str, object]:
    """Whether the provider answers: one cheap list call, at most every
    ``PROVIDER_HEALTH_CACHE_SECONDS``. ``status`` is ok, unauthorised or unavailable; a
    failure carries the provider's words in ``message``."""
    result: dict[str, object] | None = cache.get(_PROVIDER_HEALTH_KEY)
    if result is None:
        started = time.monotonic()
        try:
            provider.get_client().list_servers()
        except provider.ProviderError as exc:
            unauthorised = isinstance(exc, provider.ProviderUnauthorized)
            result = {
                "status": "unauthorised" if unauthorised else "unavailable",
                "message": exc.message,
            }
        else:
            result = {"status": "ok", "latency_ms": round((time.monotonic() - started) * 1000)}
        cache.set(_PROVIDER_HEALTH_KEY, result, timeout=settings.PROVIDER_HEALTH_CACHE_SECONDS)
    return result
