"""Thin function views. Provider trouble becomes a message on a page that still renders."""

from __future__ import annotations

import csv
import hashlib
import time
from base64 import b32encode
from datetime import timedelta

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from snapshots_ui import provider, roles, selectors, services
from snapshots_ui.client_ip import client_ip
from snapshots_ui.forms import (
    ActivityFilterForm,
    RestoreConfirmForm,
    SnapshotCreateForm,
    TwoFactorCodeForm,
    suggested_snapshot_name,
)
from snapshots_ui.middleware import two_factor_required
from snapshots_ui.models import Operation, OperationKind, OperationState
from snapshots_ui.statuses import Progress, snapshot_progress
from snapshots_ui.tasks import WORKER_HEARTBEAT_KEY, WORKER_HEARTBEAT_MAX_AGE


def _actor(request: HttpRequest) -> services.Actor:
    return services.Actor(user=request.user, ip=client_ip(request))


def _can(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "can_create": user.has_perm(roles.CREATE),
        "can_restore": user.has_perm(roles.RESTORE),
        "can_delete": user.has_perm(roles.DELETE),
    }


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


# --- Fleet ----------------------------------------------------------------------------------


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def fleet(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    fleet_view = selectors.fleet_get()
    context = {
        "fleet": fleet_view,
        "query": query,
        "server_total": len(fleet_view.data.servers) if fleet_view.data else 0,
        "table_html": _fleet_table_html(request, fleet_view, query),
    }
    if _is_htmx(request) and request.htmx.target == "fleet-table":
        response = render(request, "snapshots_ui/fleet.html#fleet-table", context)
    else:
        response = render(request, "snapshots_ui/fleet.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


FLEET_PAGE_SIZE = 100
FLEET_TABLE_CACHE_SECONDS = 30


def _fleet_table_html(request: HttpRequest, fleet_view: selectors.FleetView, query: str) -> str:
    """The server table, rendered once per change and shared by every viewer for a while.

    The key holds everything the table shows: the provider data's revision, the operations in
    progress, the filter, the page and the language. Relative times in it are at most
    FLEET_TABLE_CACHE_SECONDS old; the operation chips update themselves.
    """
    active = list(Operation.objects.active().values_list("pk", "state"))
    page_number = request.GET.get("page", "1")[:12]
    revision = fleet_view.data.revision if fleet_view.data else "none"
    key_source = f"{revision}|{active}|{query}|{page_number}|{get_language()}|{fleet_view.is_stale}"
    key = "fleet-table:" + hashlib.sha256(key_source.encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        summaries = selectors.fleet_summaries(fleet=fleet_view, name_filter=query)
        page = Paginator(summaries, FLEET_PAGE_SIZE).get_page(page_number)
        html = render_to_string(
            "snapshots_ui/partials/fleet_rows.html",
            {"page": page, "query": query, "fleet": fleet_view},
            request=request,
        )
        cache.set(key, html, timeout=FLEET_TABLE_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - our own template's output


# --- Server ---------------------------------------------------------------------------------


# A server or snapshot missing from data older than this makes one fresh read before a 404:
# it may have been added at the provider since.
REFRESH_ON_MISS_AFTER = timedelta(seconds=10)


def _fresh_enough(fleet_view: selectors.FleetView) -> selectors.FleetView:
    """The same data, or fresher data when what we have is old enough to be missing things."""
    if fleet_view.age is not None and fleet_view.age > REFRESH_ON_MISS_AFTER:
        selectors.fleet_invalidate()
        return selectors.fleet_get()
    return fleet_view


class ProviderDataMissing(Exception):
    """No provider data at all yet, and the provider is not answering: nothing to show."""

    def __init__(self, fleet_view: selectors.FleetView) -> None:
        super().__init__(fleet_view.problem)
        self.fleet_view = fleet_view


def _server_or_404(fleet_view: selectors.FleetView, server_id: int) -> selectors.ServerSummary:
    if fleet_view.data is None:
        raise ProviderDataMissing(fleet_view)
    summary = selectors.server_summary(fleet=fleet_view, server_id=server_id)
    if summary is None:
        summary = selectors.server_summary(fleet=_fresh_enough(fleet_view), server_id=server_id)
    if summary is None:
        raise Http404(_("No server with id %(id)s is known to the provider.") % {"id": server_id})
    return summary


def _server_context(
    request: HttpRequest,
    summary: selectors.ServerSummary,
    fleet_view: selectors.FleetView,
    form: SnapshotCreateForm | None = None,
) -> dict[str, object]:
    server = summary.server
    if form is None:
        form = SnapshotCreateForm(initial={"name": suggested_snapshot_name(server.name)})
    return {
        "fleet": fleet_view,
        "summary": summary,
        "server": server,
        "form": form,
        "active_operations": list(selectors.operations_active_for_server(server_id=server.id)),
        "history": selectors.operations_for_server(server_id=server.id, limit=20),
        "restore_running": any(
            op.kind == OperationKind.RESTORE for op in summary.active_operations
        ),
        **_can(request),
    }


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def server_detail(request: HttpRequest, server_id: int) -> HttpResponse:
    fleet_view = selectors.fleet_get()
    summary = _server_or_404(fleet_view, server_id)
    context = _server_context(request, summary, fleet_view)
    return render(request, "snapshots_ui/server.html", context)


@require_POST
@login_required
@permission_required(roles.CREATE, raise_exception=True)
def snapshot_create(request: HttpRequest, server_id: int) -> HttpResponse:
    fleet_view = selectors.fleet_get()
    summary = _server_or_404(fleet_view, server_id)
    form = SnapshotCreateForm(request.POST)
    if form.is_valid():
        if summary.at_limit and not fleet_view.is_stale:
            form.add_error(
                None,
                _(
                    "%(server)s already has %(limit)d snapshots, the provider's limit. Delete "
                    "an old one first."
                )
                % {"server": summary.server.name, "limit": summary.limit},
            )
        else:
            try:
                operation = services.snapshot_create(
                    actor=_actor(request),
                    server_id=summary.server.id,
                    server_name=summary.server.name,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except services.ActionRefused as refused:
                form.add_error(None, refused.message)
            else:
                if operation.needs_reconcile:
                    messages.warning(
                        request,
                        _(
                            "The provider did not confirm snapshot “%(name)s” (%(reason)s). It "
                            "may have started it all the same: the dashboard is checking and "
                            "will not send it twice."
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
    fleet_view = selectors.fleet_get()
    summary = _server_or_404(fleet_view, server_id)
    context = _server_context(request, summary, fleet_view, form=form)
    return render(request, "snapshots_ui/server.html", context, status=400)


# --- Restore and delete ---------------------------------------------------------------------


def _snapshot_or_404(
    fleet_view: selectors.FleetView, snapshot_id: int
) -> tuple[selectors.ServerSummary, provider.Snapshot]:
    if fleet_view.data is None:
        raise ProviderDataMissing(fleet_view)
    snapshot = selectors.snapshot_find(fleet=fleet_view, snapshot_id=snapshot_id)
    if snapshot is None:
        fleet_view = _fresh_enough(fleet_view)
        snapshot = selectors.snapshot_find(fleet=fleet_view, snapshot_id=snapshot_id)
    if snapshot is None:
        raise Http404(
            _("No snapshot with id %(id)s is known to the provider.") % {"id": snapshot_id}
        )
    return _server_or_404(fleet_view, snapshot.server.id), snapshot


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.RESTORE, raise_exception=True)
def snapshot_restore(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    fleet_view = selectors.fleet_get()
    summary, snapshot = _snapshot_or_404(fleet_view, snapshot_id)
    server = summary.server
    form = RestoreConfirmForm(request.POST or None, server_name=server.name)
    restorable = snapshot_progress(snapshot.status) is Progress.DONE
    busy = list(selectors.operations_active_for_server(server_id=server.id))
    status = 200
    if request.method == "POST":
        status = 400
        if not restorable:
            form.add_error(None, _("Only a completed snapshot can be restored."))
        elif form.is_valid():
            try:
                operation = services.snapshot_restore(
                    actor=_actor(request), snapshot=snapshot, server_name=server.name
                )
            except services.ActionRefused as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(
                    request,
                    _("Restore of %(server)s from “%(name)s” started. %(message)s")
                    % {
                        "server": server.name,
                        "name": snapshot.name,
                        "message": operation.provider_message,
                    },
                )
                return redirect("snapshots_ui:server", server_id=server.id)
    return render(
        request,
        "snapshots_ui/restore_confirm.html",
        {
            "fleet": fleet_view,
            "server": server,
            "snapshot": snapshot,
            "form": form,
            "restorable": restorable,
            "busy": busy,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.DELETE, raise_exception=True)
def snapshot_delete(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    fleet_view = selectors.fleet_get()
    summary, snapshot = _snapshot_or_404(fleet_view, snapshot_id)
    error = ""
    if request.method == "POST":
        try:
            operation = services.snapshot_delete(
                actor=_actor(request), snapshot=snapshot, server_name=summary.server.name
            )
        except services.ActionRefused as refused:
            error = refused.message
        else:
            messages.success(
                request,
                _("Snapshot “%(name)s” of %(server)s deleted.")
                % {"name": snapshot.name, "server": summary.server.name}
                if operation.provider_message != _("The snapshot was already deleted.")
                else _("Snapshot “%(name)s” of %(server)s had already been deleted.")
                % {"name": snapshot.name, "server": summary.server.name},
            )
            return redirect("snapshots_ui:server", server_id=summary.server.id)
    return render(
        request,
        "snapshots_ui/delete_confirm.html",
        {"fleet": fleet_view, "server": summary.server, "snapshot": snapshot, "error": error},
        status=400 if error else 200,
    )


# --- Live operation status ------------------------------------------------------------------


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def operation_status(request: HttpRequest, operation_id: int) -> HttpResponse:
    """The row of one operation. Polled every VPS_STATUS_REFRESH_SECONDS while active; HTTP
    286 stops the polling."""
    operation = get_object_or_404(Operation, pk=operation_id)
    variant = "chip" if request.GET.get("variant") == "chip" else "row"
    response = render(
        request,
        "snapshots_ui/partials/operation_row.html",
        {"operation": operation, "variant": variant},
    )
    if operation.is_active:
        return response
    stopped = HttpResponseStopPolling(response.content)
    failed = operation.state_enum.is_failed
    trigger_client_event(
        stopped,
        "operation-finished",
        {
            "message": operation.outcome_sentence(),
            "level": "error" if failed else "success",
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
            services.operation_recheck(actor=_actor(request), operation=operation)
            messages.info(request, _("The provider was asked again about this operation."))
        elif action in ("succeeded", "failed"):
            services.operation_resolve(
                actor=_actor(request),
                operation=operation,
                outcome=OperationState(action),
                note=note or _("Closed by hand by %(user)s.") % {"user": request.user},
            )
            messages.success(request, _("The operation was closed and the decision recorded."))
        else:
            messages.error(request, _("That action is not known; nothing was changed."))
    except services.ActionRefused as refused:
        messages.error(request, refused.message)
    except provider.ProviderError as exc:
        messages.error(
            request, _("The provider could not be asked: %(words)s") % {"words": exc.message}
        )
    return redirect("snapshots_ui:server", server_id=operation.server_id)


# --- Activity -------------------------------------------------------------------------------


def _activity_queryset(form: ActivityFilterForm):  # type: ignore[no-untyped-def]
    operations = Operation.objects.select_related("requested_by")
    form.is_valid()  # every filter that is valid applies, whatever the others say
    cleaned = getattr(form, "cleaned_data", {})  # an unbound form (no filters) has none
    data = {name: cleaned.get(name) for name in form.fields}
    if data["q"]:
        q = data["q"]
        operations = operations.filter(
            Q(server_name__icontains=q)
            | Q(snapshot_name__icontains=q)
            | Q(requested_by_name__icontains=q)
        )
    if data["kind"]:
        operations = operations.filter(kind=data["kind"])
    if data["state"]:
        operations = operations.filter(state=data["state"])
    if data["server"]:
        operations = operations.filter(server_id=data["server"])
    return operations


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def activity(request: HttpRequest) -> HttpResponse:
    form = ActivityFilterForm(request.GET or None)
    operations = _activity_queryset(form)
    page = Paginator(operations, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "export_url": reverse("snapshots_ui:activity_csv")
        + (f"?{query.urlencode()}" if query else ""),
    }
    if _is_htmx(request) and request.htmx.target == "activity-table":
        response = render(request, "snapshots_ui/activity.html#activity-table", context)
    else:
        response = render(request, "snapshots_ui/activity.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas in text that came from users or the provider."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def activity_csv(request: HttpRequest) -> StreamingHttpResponse:
    form = ActivityFilterForm(request.GET or None)
    operations = _activity_queryset(form)
    writer = csv.writer(_Echo())
    header = [
        "started_at", "finished_at", "duration_seconds", "who", "ip", "action", "server_id",
        "server", "snapshot_id", "snapshot", "outcome", "provider_message", "error",
    ]  # fmt: skip

    def rows():  # type: ignore[no-untyped-def]
        yield writer.writerow(header)
        for op in operations.iterator(chunk_size=500):
            duration = op.elapsed().total_seconds() if op.finished_at else ""
            yield writer.writerow(
                [
                    op.started_at.isoformat(),
                    op.finished_at.isoformat() if op.finished_at else "",
                    f"{duration:.0f}" if duration != "" else "",
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
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="snapshot-activity.csv"'
    return response


# --- Health ---------------------------------------------------------------------------------


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Database, cache and background-worker health, for load balancers and compose.

    Answers 503 when the database or the cache fails. The worker is reported (from the
    heartbeat its beat-driven dispatch task leaves in the cache) but does not fail the check:
    the pages still work without it.
    """
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "error"
    try:
        cache.set("health:ping", "1", timeout=5)
        checks["cache"] = "ok" if cache.get("health:ping") == "1" else "error"
    except Exception:
        checks["cache"] = "error"
    heartbeat = None
    if checks["cache"] == "ok":
        heartbeat = cache.get(WORKER_HEARTBEAT_KEY)
    age = (timezone.now() - heartbeat).total_seconds() if heartbeat else None
    checks["worker"] = "ok" if age is not None and age < WORKER_HEARTBEAT_MAX_AGE else "stale"
    healthy = checks["database"] == "ok" and checks["cache"] == "ok"
    body = {
        "status": "ok" if healthy else "error",
        "checks": checks,
        "worker_heartbeat_age_seconds": round(age, 1) if age is not None else None,
    }
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def health_provider(request: HttpRequest) -> JsonResponse:
    """Whether the provider answers (one cheap list call, at most every 10 seconds).

    Open to load balancers; the provider's own words are shown to logged-in users only.
    """
    result = cache.get(PROVIDER_HEALTH_KEY)
    if result is None:
        started = time.monotonic()
        try:
            provider.get_client().list_servers()
        except provider.ProviderError as exc:
            unauthorised = isinstance(exc, provider.ProviderUnauthorized)
            result = {"status": "unauthorised" if unauthorised else "unavailable"}
            result["message"] = exc.message
        else:
            result = {"status": "ok", "latency_ms": round((time.monotonic() - started) * 1000)}
        cache.set(PROVIDER_HEALTH_KEY, result, timeout=PROVIDER_HEALTH_SECONDS)
    body = dict(result)
    if not request.user.is_authenticated:
        body.pop("message", None)
    return JsonResponse(body, status=200 if result["status"] == "ok" else 503)


PROVIDER_HEALTH_KEY = "health:provider"
PROVIDER_HEALTH_SECONDS = 10


# --- Two-factor login -----------------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("snapshots_ui:fleet")


@require_http_methods(["GET", "POST"])
@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of logging in, for users with an authenticator app."""
    if request.user.is_verified() or not user_has_device(request.user, confirmed=True):
        return redirect(_safe_next(request))
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            return redirect(_safe_next(request))
        form.add_error("code", _("That code is not valid. Codes change every 30 seconds."))
    return render(
        request,
        "snapshots_ui/two_factor_verify.html",
        {"form": form, "next": _safe_next(request)},
        status=400 if form.errors else 200,
    )


PENDING_TOTP_KEY_SESSION_KEY = "two_factor_pending_key"


@require_http_methods(["GET", "POST"])
@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the code, confirm with the first six digits."""
    user = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if confirmed is not None:
        if request.method == "POST" and request.POST.get("action") == "disable":
            if two_factor_required(user):
                messages.error(request, _("The team's policy requires two-factor login for you."))
            else:
                TOTPDevice.objects.filter(user=user).delete()
                messages.success(request, _("Two-factor login is off for your account."))
            return redirect("two_factor_setup")
        return render(
            request,
            "snapshots_ui/two_factor_setup.html",
            {"enabled": True, "required": two_factor_required(user)},
        )
    # The key shown is kept in the session until a code confirms it: opening the page
    # writes no device, and reloading it shows the same code to scan.
    key = request.session.setdefault(PENDING_TOTP_KEY_SESSION_KEY, default_key())
    device = TOTPDevice(user=user, name="Authenticator app", key=key, confirmed=False)
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device, _created = TOTPDevice.objects.update_or_create(
            user=user, confirmed=False, defaults={"key": key, "name": device.name}
        )
        if device.verify_token(form.cleaned_data["code"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            del request.session[PENDING_TOTP_KEY_SESSION_KEY]
            otp_login(request, device)
            messages.success(request, _("Two-factor login is on. Keep your phone safe."))
            return redirect(_safe_next(request))
        form.add_error("code", _("That code is not valid. Check the time on your phone."))
    return render(
        request,
        "snapshots_ui/two_factor_setup.html",
        {
            "enabled": False,
            "required": two_factor_required(user),
            "form": form,
            "qr_data_uri": segno.make(device.config_url, error="m").svg_data_uri(scale=5),
            "secret": b32encode(device.bin_key).decode(),
            "next": _safe_next(request),
        },
        status=400 if form.errors else 200,
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)
