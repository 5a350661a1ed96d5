"""Notifications: the Admins' targets with their delivery log, test and resume; everyone's own
email subscription."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from snapshots_ui import roles
from snapshots_ui.models import DeliveryState, NotificationTarget, Subscription
from snapshots_ui.notify import targets
from snapshots_ui.notify.forms import SubscriptionForm, TargetForm
from snapshots_ui.views.common import actor_of

LOG_PARTIAL = "snapshots_ui/partials/delivery_log.html"

LOG_REFRESH_SECONDS = 2


def _log_refresh(request: HttpRequest, context: dict[str, object]) -> HttpResponse | None:
    """The log alone for htmx' refresh; 286 stops it once nothing is in flight."""
    if not getattr(request, "htmx", False) or request.method != "GET":
        return None
    response = render(request, LOG_PARTIAL, context)
    if not context["log_pending"]:
        response.status_code = 286
    return response


def _log_context(target: NotificationTarget | None) -> dict[str, object]:
    log = targets.deliveries_of(target)
    pending = any(d.state == DeliveryState.PENDING for d in log)
    return {"log": log, "log_pending": pending, "log_refresh": LOG_REFRESH_SECONDS}


@require_GET
@login_required
@permission_required(roles.NOTIFICATIONS, raise_exception=True)
def target_list(request: HttpRequest) -> HttpResponse:
    rows = [
        {"target": target, "address": targets.masked_address(target)}
        for target in targets.targets_with_counts()
    ]
    context = {"rows": rows, **_log_context(None)}
    return _log_refresh(request, context) or render(
        request, "snapshots_ui/notify_targets.html", context
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.NOTIFICATIONS, raise_exception=True)
def target_edit(request: HttpRequest, target_id: int | None = None) -> HttpResponse:
    target = get_object_or_404(NotificationTarget, pk=target_id) if target_id else None
    if target is not None and target.from_env and request.method == "POST":
        return HttpResponseBadRequest(_("Targets from NOTIFY_URLS are changed in the environment."))
    form = TargetForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        saved = targets.target_save(actor=actor_of(request), target=form.save(commit=False))
        messages.success(request, _("Target “%(name)s” saved.") % {"name": saved.name})
        return redirect("snapshots_ui:notify_target", saved.pk)
    context = {"form": form, "target": target}
    if target is not None:
        context.update(address=targets.masked_address(target), **_log_context(target))
    if target is not None and (refreshed := _log_refresh(request, context)):
        return refreshed
    response = render(request, "snapshots_ui/notify_target.html", context)
    if request.method == "POST":
        response.status_code = 400
    return response


@require_POST
@login_required
@permission_required(roles.NOTIFICATIONS, raise_exception=True)
def target_test(request: HttpRequest, target_id: int) -> HttpResponse:
    target = get_object_or_404(NotificationTarget, pk=target_id)
    targets.target_test(target=target, actor_name=request.user.get_username())
    messages.info(
        request,
        _("A test notification to “%(name)s” is on its way; its result shows in the log below.")
        % {"name": target.name},
    )
    return redirect("snapshots_ui:notify_target", target.pk)


@require_POST
@login_required
@permission_required(roles.NOTIFICATIONS, raise_exception=True)
def target_resume(request: HttpRequest, target_id: int) -> HttpResponse:
    target = get_object_or_404(NotificationTarget, pk=target_id)
    held = targets.target_resume(actor=actor_of(request), target=target)
    messages.success(
        request,
        _("“%(name)s” resumed; %(held)d held notifications are being sent.")
        % {"name": target.name, "held": held},
    )
    return redirect("snapshots_ui:notify_target", target.pk)


@require_POST
@login_required
@permission_required(roles.NOTIFICATIONS, raise_exception=True)
def target_delete(request: HttpRequest, target_id: int) -> HttpResponse:
    target = get_object_or_404(NotificationTarget, pk=target_id, from_env=False)
    targets.target_delete(actor=actor_of(request), target=target)
    messages.success(request, _("Target “%(name)s” deleted.") % {"name": target.name})
    return redirect("snapshots_ui:notify_targets")


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def subscription(request: HttpRequest) -> HttpResponse:
    mine = Subscription.objects.filter(user=request.user).first() or Subscription(user=request.user)
    form = SubscriptionForm(request.POST or None, instance=mine)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your email notifications are saved."))
        return redirect("snapshots_ui:notify_subscription")
    response = render(
        request,
        "snapshots_ui/notify_subscription.html",
        {"form": form, "has_email": bool(request.user.email)},
    )
    if request.method == "POST":
        response.status_code = 400
    return response
