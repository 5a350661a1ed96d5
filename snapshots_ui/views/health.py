"""Health checks for load balancers, compose and people."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from snapshots_ui import health as checks


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Database, cache and background-worker health (``HealthProbeMiddleware`` answers the
    same for any Host header)."""
    body, status = checks.health_report()
    return JsonResponse(body, status=status)


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
