"""A snapshot's life from its row: how long it is kept, protection, deleting many at once,
cancelling a chained workflow."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from snapshots_ui import lifecycle, refusals, roles, selectors, workflows
from snapshots_ui.fleet_cache import fleet_current
from snapshots_ui.forms import BulkDeleteFilterForm, KeepForm
from snapshots_ui.models import SnapshotRecord, Workflow
from snapshots_ui.provider import Snapshot
from snapshots_ui.views.common import actor_of, allowed_actions


def _back_to_server(snapshot_id: int) -> HttpResponse:
    _fleet, summary, _snapshot = selectors.snapshot_get(snapshot_id=snapshot_id, refresh=False)
    return redirect("snapshots_ui:server", server_id=summary.server.id)


@require_POST
@login_required
@permission_required(roles.CREATE, raise_exception=True)
def snapshot_keep(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    form = KeepForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose how long to keep the snapshot; nothing was changed."))
        return _back_to_server(snapshot_id)
    record = lifecycle.snapshot_keep_until_set(
        actor=actor_of(request), snapshot_id=snapshot_id, days=form.cleaned_data["keep_days"]
    )
    messages.success(request, _("“%(name)s”: how long it is kept was changed.") % {
        "name": record.name
    })  # fmt: skip
    return _back_to_server(snapshot_id)


@require_POST
@login_required
@permission_required(roles.CREATE, raise_exception=True)
def snapshot_protect(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    record = lifecycle.snapshot_protect(
        actor=actor_of(request), snapshot_id=snapshot_id, protect=True
    )
    messages.success(
        request,
        _("“%(name)s” is protected: nobody can delete it until an Admin lifts the protection.")
        % {"name": record.name},
    )
    return _back_to_server(snapshot_id)


@require_POST
@login_required
@permission_required(roles.DELETE, raise_exception=True)
def snapshot_unprotect(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    record = lifecycle.snapshot_protect(
        actor=actor_of(request), snapshot_id=snapshot_id, protect=False
    )
    messages.success(request, _("“%(name)s” is no longer protected.") % {"name": record.name})
    return _back_to_server(snapshot_id)


@require_POST
@login_required
@permission_required(roles.DELETE, raise_exception=True)
def snapshot_gone_acknowledge(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    """An Admin has seen that a protected snapshot vanished at the provider: stop saying so."""
    record = get_object_or_404(SnapshotRecord, snapshot_id=snapshot_id, gone_at__isnull=False)
    lifecycle.snapshot_gone_acknowledge(actor=actor_of(request), record=record)
    return redirect("snapshots_ui:server", server_id=record.server_id)


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def workflow_status(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """One workflow's steps, polled while it runs; when it has ended, HTTP 286 stops the
    polling and an ``operation-finished`` event tells the page (a toast, the lists again)."""
    workflow = get_object_or_404(
        Workflow.objects.prefetch_related("steps__operation"), pk=workflow_id
    )
    context = {"workflow": workflow, **allowed_actions(request)}
    response = render(request, "snapshots_ui/partials/workflow.html", context)
    if workflow.is_running:
        return response
    stopped = HttpResponseStopPolling(response.content)
    trigger_client_event(
        stopped,
        "operation-finished",
        {
            "message": workflow.outcome,
            "level": "success" if workflow.state == "succeeded" else "error",
        },
    )
    return stopped


@require_POST
@login_required
@permission_required(roles.RESTORE, raise_exception=True)
def workflow_cancel(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = get_object_or_404(Workflow, pk=workflow_id)
    try:
        workflows.workflow_cancel(actor=actor_of(request), workflow=workflow)
    except refusals.ActionRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.info(request, _("Cancelled: the steps not started yet will not start."))
    return redirect("snapshots_ui:server", server_id=workflow.server_id)


# --- Deleting many at once ----------------------------------------------------------------------


def _selected(request: HttpRequest, finder: BulkDeleteFilterForm) -> list[tuple[Snapshot, str]]:
    """The snapshots a bulk delete names (by id, or found by the filter over the fleet), each
    with its server's name, by server then age."""
    data = fleet_current().data
    if data is None:
        return []
    names = {s.id: s.name for s in data.servers}
    source = request.POST if request.method == "POST" else request.GET
    ids = {int(i) for i in source.getlist("ids") if i.isdigit()}
    if ids:
        chosen = [s for s in data.snapshots if s.id in ids]
    elif finder.is_valid() and not finder.is_empty():
        older_than = finder.cleaned_data["older_than_days"]
        contains = finder.cleaned_data["name_contains"].casefold()
        cutoff = timezone.now() - timedelta(days=older_than or 0)
        chosen = [
            s for s in data.snapshots
            if (older_than is None or (s.created_at is not None and s.created_at < cutoff))
            and contains in s.name.casefold()
        ]  # fmt: skip
    else:
        chosen = []
    chosen.sort(key=lambda s: (names.get(s.server.id, ""), s.created_at or timezone.now()))
    return [(s, names.get(s.server.id, s.server.name)) for s in chosen]


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.DELETE, raise_exception=True)
def snapshots_delete_many(request: HttpRequest) -> HttpResponse:
    """Confirm, then delete several snapshots; protected ones are left out with the reason."""
    finder = BulkDeleteFilterForm(request.GET or None)
    chosen = _selected(request, finder)
    records = lifecycle.records_by_snapshot([s.id for s, _server in chosen])
    protected = [(s, name) for s, name in chosen if s.id in records and records[s.id].protected]
    doomed = [(s, name) for s, name in chosen if (s, name) not in protected]
    left_over = max(0, len(doomed) - settings.BULK_DELETE_LIMIT)
    doomed = doomed[: settings.BULK_DELETE_LIMIT]
    phrase = f"delete {len(doomed)} snapshots"
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm", "").strip() != phrase:
            error = _("Type “%(phrase)s” exactly to confirm.") % {"phrase": phrase}
        elif doomed:
            result = lifecycle.snapshots_delete_many(
                actor=actor_of(request), snapshots=[s for s, _name in doomed]
            )
            return render(request, "snapshots_ui/delete_many_done.html", {"result": result})
    context = {
        "finder": finder,
        "left_over": left_over,
        "limit": settings.BULK_DELETE_LIMIT,
        "doomed": doomed,
        "protected": protected,
        "total_mb": sum(s.size_mb or 0 for s, _name in doomed),
        "phrase": phrase,
        "error": error,
        "query": request.GET.urlencode() if request.method == "GET" else "",
        "ids": [s.id for s, _name in doomed],
        "count_sentence": ngettext(
            "%(n)d snapshot will be deleted.", "%(n)d snapshots will be deleted.", len(doomed)
        )
        % {"n": len(doomed)},
    }
    return render(request, "snapshots_ui/delete_many.html", context, status=400 if error else 200)
