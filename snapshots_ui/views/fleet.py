"""The fleet (every server) and one server's page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET

from snapshots_ui import lifecycle, lifecycle_reads, roles, safe_restore, selectors
from snapshots_ui.fleet_cache import FleetView, fleet_current, fleet_server_refresh_soon
from snapshots_ui.forms import KeepForm, SnapshotCreateForm, suggested_snapshot_name
from snapshots_ui.views.common import allowed_actions, render_page_or_partial


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def fleet(request: HttpRequest) -> HttpResponse:
    """Every server. The table is rendered once per change and shared by every viewer (see
    the template's cache block): its rows are only worked out when that copy is missing."""
    query = request.GET.get("q", "")[:100]
    page_number = request.GET.get("page", "1")[:12]
    fleet_view = fleet_current()

    def rows() -> Page:
        summaries = selectors.fleet_summaries(fleet=fleet_view, name_filter=query)
        page = Paginator(summaries, settings.VPS_FLEET_PAGE_SIZE).get_page(page_number)
        lifecycle_reads.annotate_rows(list(page.object_list))
        return page

    context = {
        "fleet": fleet_view,
        "query": query,
        "query_string": urlencode({"q": query}) if query else "",
        "server_total": len(fleet_view.data.servers) if fleet_view.data else 0,
        "page": SimpleLazyObject(rows),
        "table_version": selectors.fleet_table_version(fleet_view)
        + lifecycle_reads.lifecycle_version(),
        "page_number": page_number,
        "table_cache_seconds": settings.VPS_FLEET_TABLE_CACHE_SECONDS,
        **allowed_actions(request),
    }
    return render_page_or_partial(
        request, "snapshots_ui/fleet.html", context, partial="fleet-table"
    )


def server_context(
    request: HttpRequest,
    fleet_view: FleetView,
    summary: selectors.ServerSummary,
    form: SnapshotCreateForm | None = None,
) -> dict[str, object]:
    """What the server page shows; the create view renders it again with its form's errors."""
    server = summary.server
    if form is None:
        form = SnapshotCreateForm(initial={"name": suggested_snapshot_name(server.name)})
    records = lifecycle_reads.records_for(summary)
    return {
        "fleet": fleet_view,
        "summary": summary,
        "server": server,
        "form": form,
        "keep_form": KeepForm(),
        "active_operations": list(selectors.operations_active_for_server(server_id=server.id)),
        "history": selectors.operations_for_server(server_id=server.id, limit=20),
        "records": records,
        "slots": (slot_views := lifecycle_reads.slots(summary, records)),
        "slot_legend": lifecycle_reads.slot_legend(slot_views),
        "oldest_replaceable": lifecycle.oldest_replaceable(summary) if summary.at_limit else None,
        "skipped": lifecycle_reads.skipped_runs(server_ids=[server.id]).get(server.id, []),
        "skips_ahead": lifecycle_reads.skips_ahead(summary, records),
        "protected_gone": lifecycle_reads.protected_gone(server.id),
        "workflows": lifecycle_reads.recent_workflows(server.id),
        "undo": safe_restore.undo_offer(summary),
        **allowed_actions(request),
    }


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def server_detail(request: HttpRequest, server_id: int) -> HttpResponse:
    """One server. Its page reads only that server's lists at the provider, never the
    fleet's."""
    fleet_view, summary = selectors.server_get(server_id=server_id, refresh=False)
    fleet_server_refresh_soon(fleet_view, server_id)
    return render(request, "snapshots_ui/server.html", server_context(request, fleet_view, summary))
