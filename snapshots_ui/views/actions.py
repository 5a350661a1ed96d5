"""Create, restore and delete; the live status of an operation; closing a stuck one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from snapshots_ui import (
    lifecycle,
    lifecycle_reads,
    provider,
    refusals,
    roles,
    safe_restore,
    selectors,
    services,
)
from snapshots_ui.forms import RestoreConfirmForm, SnapshotCreateForm
from snapshots_ui.models import Operation, Workflow
from snapshots_ui.statuses import OperationState, snapshot_is_restorable
from snapshots_ui.views.common import actor_of
from snapshots_ui.views.fleet import server_context


@require_POST
@login_required
@permission_required(roles.CREATE, raise_exception=True)
def snapshot_create(request: HttpRequest, server_id: int) -> HttpResponse:
    selectors.server_get(
        server_id=server_id, refresh=False
    )  # a 404 page for a server the provider lacks
    form = SnapshotCreateForm(request.POST)
    if form.is_valid():
        try:
            operation = _create(request, server_id, form.cleaned_data)
        except refusals.ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            if operation is None:  # a workflow: the oldest goes first
                messages.success(
                    request,
                    _("The oldest snapshot is being replaced by “%(name)s”.")
                    % {"name": form.cleaned_data["name"]},
                )
                return redirect("snapshots_ui:server", server_id=server_id)
            if operation.needs_reconcile:
                messages.warning(
                    request,
                    _(
                        "The provider did not confirm snapshot “%(name)s” (%(reason)s). It may "
                        "have started it all the same: the dashboard is checking and will not "
                        "send it twice."
                    )
                    % {"name": operation.snapshot_name, "reason": operation.provider_message},
                )
            else:
                messages.success(
                    request,
                    _("Snapshot “%(name)s” of %(server)s started. %(message)s")
                    % {
                        "name": operation.snapshot_name,
                        "server": operation.server_name,
                        "message": operation.provider_message,
                    },
                )
            return redirect("snapshots_ui:server", server_id=server_id)
    fleet_view, summary = selectors.server_get(server_id=server_id, refresh=False)
    context = server_context(request, fleet_view, summary, form=form)
    return render(request, "snapshots_ui/server.html", context, status=400)


def _create(request: HttpRequest, server_id: int, data: dict[str, object]) -> Operation | None:
    """A plain create, or at 5 of 5 (when asked) a workflow replacing the oldest: the one the
    person saw named, and only while it still is the oldest unprotected one."""
    keep_until = lifecycle.keep_until_for(int(data["keep_days"]))  # type: ignore[call-overload]
    if data.get("replace_snapshot"):
        _fleet, summary = selectors.server_get(server_id=server_id, refresh=False)
        oldest = lifecycle.oldest_to_replace(summary)
        if oldest.snapshot.id != data["replace_snapshot"]:
            raise refusals.ActionRefused(
                _(
                    "The oldest unprotected snapshot is now “%(name)s”, not the one shown when "
                    "the page was opened. Check it, then confirm again."
                )
                % {"name": oldest.snapshot.name}
            )
        lifecycle.snapshot_create_replacing(
            actor=actor_of(request), server_id=server_id, name=str(data["name"]),
            description=str(data["description"]), keep_until=keep_until,
            replace_snapshot_id=oldest.snapshot.id,
        )  # fmt: skip
        return None
    return services.snapshot_create(
        actor=actor_of(request), server_id=server_id, name=str(data["name"]),
        description=str(data["description"]), keep_until=keep_until,
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.RESTORE, raise_exception=True)
def snapshot_restore(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    """The restore page: the plan (a safety snapshot first, by default), then the restore."""
    plan = safe_restore.restore_plan(snapshot_id=snapshot_id)
    form = RestoreConfirmForm(request.POST or None, plan=plan)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                started = safe_restore.restore_start(
                    actor=actor_of(request),
                    snapshot_id=plan.snapshot.id,
                    choice=safe_restore.SafetyChoice(form.cleaned_data["safety"]),
                    replace_snapshot_id=form.cleaned_data["replace_snapshot"],
                )
            except refusals.ActionRefused as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, _restore_started(plan, started))
                return redirect("snapshots_ui:server", server_id=plan.summary.server.id)
    server = plan.summary.server
    return render(
        request,
        "snapshots_ui/restore_confirm.html",
        {
            "fleet": plan.fleet,
            "server": server,
            "snapshot": plan.snapshot,
            "plan": plan,
            "choices": [(choice, plan.expected_seconds(choice)) for choice in plan.choices],
            "form": form,
            "restorable": snapshot_is_restorable(plan.snapshot.status),
            "busy": list(selectors.operations_active_for_server(server_id=server.id)),
            "workflows": lifecycle_reads.running_workflows(server.id),
            "undoes": safe_restore.undoes(plan.snapshot.id),
        },
        status=status,
    )


def _restore_started(plan: safe_restore.RestorePlan, started: Workflow | Operation) -> str:
    names = {"server": plan.summary.server.name, "name": plan.snapshot.name}
    if isinstance(started, Workflow):
        return _(
            "Restore of %(server)s from “%(name)s” started: first the safety snapshot "
            "“%(safety)s”, then the restore once it is completed."
        ) % {**names, "safety": plan.safety_name}
    return _("Restore of %(server)s from “%(name)s” started. %(message)s") % {
        **names,
        "message": started.provider_message,
    }


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.DELETE, raise_exception=True)
def snapshot_delete(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    fleet_view, summary, snapshot = selectors.snapshot_get(snapshot_id=snapshot_id, refresh=False)
    names = {"name": snapshot.name, "server": summary.server.name}
    error = ""
    if request.method == "POST":
        try:
            deleted = services.snapshot_delete(actor=actor_of(request), snapshot_id=snapshot.id)
        except refusals.ActionRefused as refused:
            error = refused.message
        else:
            if deleted.unconfirmed:
                messages.warning(
                    request,
                    _(
                        "The provider did not confirm the delete of “%(name)s” (%(reason)s). It "
                        "may have deleted it all the same: the dashboard is checking its list."
                    )
                    % {**names, "reason": deleted.operation.provider_message},
                )
            elif deleted.already_gone:
                messages.success(
                    request,
                    _("Snapshot “%(name)s” of %(server)s had already been deleted.") % names,
                )
            else:
                messages.success(request, _("Snapshot “%(name)s” of %(server)s deleted.") % names)
            return redirect("snapshots_ui:server", server_id=summary.server.id)
    return render(
        request,
        "snapshots_ui/delete_confirm.html",
        {"fleet": fleet_view, "server": summary.server, "snapshot": snapshot, "error": error},
        status=400 if error else 200,
    )


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def operation_status(request: HttpRequest, operation_id: int) -> HttpResponse:
    """One operation's row (or, with ``?variant=chip``, its chip in the fleet table). Polled
    while active; HTTP 286 stops the polling and an ``operation-finished`` event says how it
    ended."""
    operation = get_object_or_404(Operation, pk=operation_id)
    if request.GET.get("variant") == "chip":
        template = "snapshots_ui/partials/operation_chip.html"
    else:
        template = "snapshots_ui/partials/operation_row.html"
    response = render(request, template, {"operation": operation})
    if operation.is_active:
        return response
    stopped = HttpResponseStopPolling(response.content)
    trigger_client_event(
        stopped,
        "operation-finished",
        {
            "message": operation.outcome_sentence(),
            "level": "error" if operation.is_failed else "success",
            "id": operation.pk,
        },
    )
    return stopped


@require_POST
@login_required
@permission_required(roles.DELETE, raise_exception=True)
def operation_resolve(request: HttpRequest, operation_id: int) -> HttpResponse:
    """An Admin's way out for a stuck operation: check again now, or close it by hand."""
    operation = get_object_or_404(Operation, pk=operation_id)
    action = request.POST.get("action", "")
    note = request.POST.get("note", "").strip()[:500]
    try:
        if action == "recheck":
            services.operation_recheck(actor=actor_of(request), operation=operation)
            messages.info(request, _("The provider was asked again about this operation."))
        elif action in ("succeeded", "failed"):
            services.operation_resolve(
                actor=actor_of(request),
                operation=operation,
                outcome=OperationState(action),
                note=note or _("Closed by hand by %(user)s.") % {"user": request.user},
            )
            messages.success(request, _("The operation was closed and the decision recorded."))
        else:
            messages.error(request, _("That action is not known; nothing was changed."))
    except refusals.ActionRefused as refused:
        messages.error(request, refused.message)
    except provider.ProviderError as exc:
        messages.error(
            request, _("The provider could not be asked: %(words)s") % {"words": exc.message}
        )
    return redirect("snapshots_ui:server", server_id=operation.server_id)
