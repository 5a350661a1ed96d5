"""A person's API tokens on their account page: make one (shown once), see each one's last
use, revoke it. Admins see and revoke everyone's."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from snapshots_ui import api_tokens, roles
from snapshots_ui.forms import ApiTokenForm
from snapshots_ui.views.common import actor_of


@require_http_methods(["GET", "POST"])
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    allowed = api_tokens.scopes_allowed(request.user)
    form = ApiTokenForm(request.POST or None, allowed=allowed)
    created = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            days = form.cleaned_data["lifetime"]
            try:
                token, raw = api_tokens.api_token_create(
                    actor=actor_of(request), user=request.user, name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    lifetime=timedelta(days=days) if days else None,
                )  # fmt: skip
            except api_tokens.TokenRefused as refused:
                form.add_error(None, refused.message)
            else:
                # Shown on this answer only: it is stored nowhere but as a hash.
                created, status = {"token": token, "raw": raw}, 200
                form = ApiTokenForm(allowed=allowed)
    context = {
        "form": form,
        "created": created,
        "allowed": allowed,
        "tokens": api_tokens.api_tokens_visible_to(request.user),
        "sees_all": roles.role_of(request.user) == roles.ADMIN,
    }
    response = render(request, "snapshots_ui/api_tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(api_tokens.api_tokens_visible_to(request.user), pk=token_id)
    try:
        api_tokens.api_token_revoke(actor=actor_of(request), token=token)
    except api_tokens.TokenRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("api_tokens")
