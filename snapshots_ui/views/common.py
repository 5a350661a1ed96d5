"""What several views share: who is acting, what they may do, whether htmx asked."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from snapshots_ui import roles
from snapshots_ui.audit import Actor
from snapshots_ui.client_ip import client_ip


def actor_of(request: HttpRequest) -> Actor:
    return Actor(user=request.user, ip=client_ip(request))


def allowed_actions(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "can_create": user.has_perm(roles.CREATE),
        "can_restore": user.has_perm(roles.RESTORE),
        "can_delete": user.has_perm(roles.DELETE),
    }


def render_page_or_partial(
    request: HttpRequest, template: str, context: dict[str, object], *, partial: str
) -> HttpResponse:
    """The whole page, or only its named partial when htmx asked to replace that element
    (the partial is named after its DOM id)."""
    if getattr(request, "htmx", False) and request.htmx.target == partial:
        response = render(request, f"{template}#{partial}", context)
    else:
        response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)
