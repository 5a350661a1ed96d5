"""A person's own account: the second login step and setting up an authenticator app."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token, user_has_device

from snapshots_ui import two_factor
from snapshots_ui.forms import TwoFactorCodeForm

PENDING_TOTP_KEY_SESSION_KEY = "two_factor_pending_key"


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


@require_http_methods(["GET", "POST"])
@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the code, confirm with the first six digits."""
    user = request.user
    required = two_factor.two_factor_required(user)
    if two_factor.totp_confirmed_device(user) is not None:
        if request.method == "POST" and request.POST.get("action") == "disable":
            if required:
                messages.error(request, _("The team's policy requires two-factor login for you."))
            else:
                two_factor.totp_remove(user)
                messages.success(request, _("Two-factor login is off for your account."))
            return redirect("two_factor_setup")
        context = {"enabled": True, "required": required}
        return render(request, "snapshots_ui/two_factor_setup.html", context)
    # The key shown is kept in the session until a code confirms it: opening the page
    # writes no device, and reloading it shows the same code to scan.
    key = request.session.setdefault(PENDING_TOTP_KEY_SESSION_KEY, two_factor.totp_new_key())
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = two_factor.totp_confirm(user, key=key, code=form.cleaned_data["code"])
        if device is not None:
            del request.session[PENDING_TOTP_KEY_SESSION_KEY]
            otp_login(request, device)
            messages.success(request, _("Two-factor login is on. Keep your phone safe."))
            return redirect(_safe_next(request))
        form.add_error("code", _("That code is not valid. Check the time on your phone."))
    pending = two_factor.totp_pending_device(user, key=key)
    return render(
        request,
        "snapshots_ui/two_factor_setup.html",
        {
            "enabled": False,
            "required": required,
            "form": form,
            "qr_data_uri": segno.make(pending.config_url, error="m").svg_data_uri(scale=5),
            "secret": two_factor.totp_secret(pending),
            "next": _safe_next(request),
        },
        status=400 if form.errors else 200,
    )
