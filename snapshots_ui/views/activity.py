"""The activity page (every operation, or every account event, filtered) and its CSV export."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from snapshots_ui import roles, selectors
from snapshots_ui.fleet_cache import fleet_current
from snapshots_ui.forms import ACCOUNT_EVENTS, LIFECYCLE_EVENTS, ActivityFilterForm
from snapshots_ui.models import AuditEvent, Operation
from snapshots_ui.views.common import render_page_or_partial

ACTIVITY_TABLE = "activity-table"


def _filtered(
    request: HttpRequest,
) -> tuple[ActivityFilterForm, QuerySet[Operation] | QuerySet[AuditEvent]]:
    """Operations, or account or lifecycle events when the "Action" filter asks for them.
    Every filter that is valid applies, whatever the others say."""
    form = ActivityFilterForm(request.GET or None)
    form.is_valid()
    cleaned = getattr(form, "cleaned_data", {})  # an unbound form (no filters) has none
    if cleaned.get("kind") == ACCOUNT_EVENTS:
        return form, selectors.account_events_filtered(q=cleaned.get("q") or "")
    if cleaned.get("kind") == LIFECYCLE_EVENTS:
        return form, selectors.lifecycle_events_filtered(
            q=cleaned.get("q") or "", server=cleaned.get("server")
        )
    return form, selectors.operations_filtered(filters=cleaned)


def _showing(form: ActivityFilterForm) -> str:
    """What the list holds: "account" or "lifecycle" events, or "" for operations."""
    kind = getattr(form, "cleaned_data", {}).get("kind")
    return kind if kind in (ACCOUNT_EVENTS, LIFECYCLE_EVENTS) else ""


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def activity(request: HttpRequest) -> HttpResponse:
    form, operations = _filtered(request)
    if not (request.htmx and request.htmx.target == ACTIVITY_TABLE):  # the form is shown
        form.offer_servers(selectors.activity_servers(fleet=fleet_current()))
    page = Paginator(operations, settings.ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "events": _showing(form),
        "page": page,
        "query": query.urlencode(),
        "export_url": reverse("snapshots_ui:activity_csv")
        + (f"?{query.urlencode()}" if query else ""),
    }
    return render_page_or_partial(
        request, "snapshots_ui/activity.html", context, partial=ACTIVITY_TABLE
    )


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas in text that came from users or the provider."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


CSV_HEADER = [
    "started_at", "finished_at", "duration_seconds", "who", "ip", "action", "server_id",
    "server", "snapshot_id", "snapshot", "outcome", "provider_message", "error",
]  # fmt: skip


def _csv_row(op: Operation) -> list[object]:
    duration = f"{op.elapsed().total_seconds():.0f}" if op.finished_at else ""
    return [
        op.started_at.isoformat(),
        op.finished_at.isoformat() if op.finished_at else "",
        duration,
        csv_safe(op.requested_by_name),
        op.requested_from_ip or "",
        op.kind,
        op.server_id,
        csv_safe(op.server_name),
        op.snapshot_id or "",
        csv_safe(op.snapshot_name),
        op.state,
        csv_safe(op.provider_message),
        csv_safe(op.error),
    ]


ACCOUNT_CSV_HEADER = ["time", "who", "ip", "event", "account", "detail"]
LIFECYCLE_CSV_HEADER = ["time", "who", "event", "server_id", "server", "subject", "detail"]


def _account_csv_row(event: AuditEvent) -> list[object]:
    return [
        event.created_at.isoformat(),
        csv_safe(event.actor_name),
        event.actor_ip or "",
        event.action,
        csv_safe(event.subject_name),
        csv_safe(event.detail),
    ]


def _lifecycle_csv_row(event: AuditEvent) -> list[object]:
    return [
        event.created_at.isoformat(),
        csv_safe(event.actor_name),
        event.action,
        event.server_id or "",
        csv_safe(event.server_name),
        csv_safe(event.subject_name or event.snapshot_name),
        csv_safe(event.detail),
    ]


CSV_FORMATS = {
    "": (CSV_HEADER, _csv_row, "snapshot-activity.csv"),
    ACCOUNT_EVENTS: (ACCOUNT_CSV_HEADER, _account_csv_row, "account-events.csv"),
    LIFECYCLE_EVENTS: (LIFECYCLE_CSV_HEADER, _lifecycle_csv_row, "lifecycle-events.csv"),
}


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def activity_csv(request: HttpRequest) -> StreamingHttpResponse:
    form, records = _filtered(request)
    writer = csv.writer(_Echo())
    header, row_of, name = CSV_FORMATS[_showing(form)]

    def rows() -> Iterator[str]:
        yield writer.writerow(header)
        for record in records.iterator(chunk_size=500):
            yield writer.writerow(row_of(record))  # type: ignore[arg-type]

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
