"""The provider's side of things for operators: /metrics for Prometheus, and the Admins'
provider page (budget, pause, the last hour as a chart)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from snapshots_ui import metrics, roles
from snapshots_ui.client_ip import client_ip
from snapshots_ui.provider import budget

CHART_WIDTH = 600
CHART_HEIGHT = 160


@never_cache
@require_GET
def metrics_endpoint(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format, for scrapers that METRICS_ALLOW_IPS or METRICS_TOKEN let in."""
    allowed = metrics.metrics_allowed(
        address=client_ip(request), authorization=request.headers.get("Authorization", "")
    )
    if not allowed:
        return HttpResponse(
            "Metrics are open to the addresses in METRICS_ALLOW_IPS or to a bearer token "
            "(METRICS_TOKEN) only.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(generate_latest(metrics.registry()), content_type=CONTENT_TYPE_LATEST)


def _chart(minutes: list[metrics.Minute], per_minute: int) -> dict[str, object]:
    """Bars (calls, errors in them) against the budget line, mean latency as a line. When
    the budget is far above the calls, the scale follows the calls and the line is left out."""
    busiest = max((m.calls for m in minutes), default=0)
    budget_on_scale = per_minute <= 2 * busiest
    top = max(per_minute if budget_on_scale else busiest * 1.25, 1)
    slot = CHART_WIDTH / len(minutes)
    latencies = [m.latency_ms for m in minutes if m.latency_ms is not None]
    slowest = max(latencies, default=0) or 1
    bars, points, dots = [], [], []
    for index, minute in enumerate(minutes):
        height = minute.calls * CHART_HEIGHT / top
        errors = minute.errors * CHART_HEIGHT / top
        x = index * slot
        bars.append(
            {"x": round(x + 1, 1), "width": round(max(1, slot - 2), 1), "minute": minute,
             "y": round(CHART_HEIGHT - height, 1), "height": round(height, 1),
             "error_y": round(CHART_HEIGHT - errors, 1), "error_height": round(errors, 1)}
        )  # fmt: skip
        if minute.latency_ms is not None:
            y = CHART_HEIGHT - minute.latency_ms * CHART_HEIGHT / slowest
            points.append(f"{x + slot / 2:.1f},{y:.1f}")
            dots.append({"x": round(x + slot / 2, 1), "y": round(y, 1)})
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "bars": bars,
        "budget_y": round(CHART_HEIGHT - per_minute * CHART_HEIGHT / top, 1)
        if budget_on_scale
        else None,
        "latency_points": " ".join(points),
        "latency_dots": dots,
        "slowest_ms": round(slowest) if latencies else None,
        "top": top,
    }


@require_GET
@login_required
@permission_required(roles.PROVIDER, raise_exception=True)
def provider_page(request: HttpRequest) -> HttpResponse:
    minutes = metrics.provider_last_hour()
    usage = budget.usage()
    calls = sum(m.calls for m in minutes)
    context = {
        "usage": usage,
        "pause": budget.paused_for(),
        "minutes": minutes,
        "chart": _chart(minutes, usage.limits.per_minute),
        "calls_last_hour": calls,
        "errors_last_hour": sum(m.errors for m in minutes),
        "throttled_last_hour": sum(m.throttled for m in minutes),
        "busiest_minute": max((m.calls for m in minutes), default=0),
    }
    return render(request, "snapshots_ui/provider.html", context)
