"""Help pages: the provider's own guidance, where decisions are made."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
@login_required
def snapshot_help(request: HttpRequest) -> HttpResponse:
    """When to take a snapshot and when a backup, from the provider's "Snapshots vs Backups"
    and "Best practices"."""
    return render(
        request,
        "snapshots_ui/snapshot_help.html",
        {"limit": settings.VPS_SNAPSHOTS_PER_SERVER},
    )
