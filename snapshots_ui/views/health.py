"""Health checks for load balancers, compose and people."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from snapshots_ui import health as checks


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Database, cache and background-worker health. Answers 503 when the database or the
    cache fails; a stale worker is reported but does not fail the check."""
    state = checks.system_health()
    age = state.worker_heartbeat_age
    body = {
        "status": "ok" if state.healthy else "error",
        "checks": {"database": state.database, "cache": state.cache, "worker": state.worker},
        "worker_heartbeat_age_seconds": round(age, 1) if age is not None else None,
    }
    return JsonResponse(body, status=200 if state.healthy else 503)


@never_cache
@require_GET
def health_provider(request: HttpRequest) -> JsonResponse:
    """Whether the provider answers. Open to load balancers; the provider's own words are
    shown to logged-in users only."""
    result = checks.provider_health()
    body = dict(result)
    if not request.user.is_authenticated:
        body.pop("message", None)
    return JsonResponse(body, status=200 if result["status"] == "ok" else 503)
