"""A person's own account: logging in, the second login step, an authenticator app, the
password. Every change is recorded in the audit trail (``accounts``)."""

from __future__ import annotations

from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from snapshots_ui import accounts, languages, two_factor
from snapshots_ui.forms import TwoFactorCodeForm

PENDING_TOTP_KEY_SESSION_KEY = "two_factor_pending_key"


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("snapshots_ui:fleet")


def _signed_out_sentence(reason: str) -> str:
    if reason == "idle":
        minutes = max(1, settings.SESSION_IDLE_SECONDS // 60)
        return ngettext(
            "You were signed out after %(n)d minute without activity.",
            "You were signed out after %(n)d minutes without activity.",
            minutes,
        ) % {"n": minutes}
    if reason == "max":
        hours = max(1, settings.SESSION_MAX_SECONDS // 3600)
        return ngettext(
            "You were signed out %(n)d hour after logging in; log in again to go on.",
            "You were signed out %(n)d hours after logging in; log in again to go on.",
            hours,
        ) % {"n": hours}
    return ""


class LoginView(auth_views.LoginView):
    """Django's log-in page, saying why a session ended when it ended by itself."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["signed_out"] = _signed_out_sentence(self.request.GET.get("signed_out", ""))
        return context


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("snapshots_ui:fleet")

    def form_valid(self, form: Form) -> HttpResponse:
        response = super().form_valid(form)
        accounts.password_changed(request=self.request, user=self.request.user, by_reset=False)
        messages.success(self.request, _("Your password was changed."))
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form: Form) -> HttpResponse:
        response = super().form_valid(form)
        accounts.password_changed(request=self.request, user=form.user, by_reset=True)  # type: ignore[attr-defined]
        return response


def _verified(request: HttpRequest, device: TOTPDevice) -> None:
    """The second factor is proven: a new session key, as at log-in."""
    otp_login(request, device)
    request.session.cycle_key()


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
            _verified(request, device)
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
        return _two_factor_enabled(request, required=required)
    # The key shown is kept in the session until a code confirms it: opening the page
    # writes no device, and reloading it shows the same code to scan.
    key = request.session.setdefault(PENDING_TOTP_KEY_SESSION_KEY, two_factor.totp_new_key())
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = two_factor.totp_confirm(user, key=key, code=form.cleaned_data["code"])
        if device is not None:
            del request.session[PENDING_TOTP_KEY_SESSION_KEY]
            _verified(request, device)
            accounts.two_factor_changed(request=request, enabled=True)
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


def _two_factor_enabled(request: HttpRequest, *, required: bool) -> HttpResponse:
    """The page of someone whose authenticator is set up. Turning it off needs a session that
    proved the factor and a fresh code from it: a stolen password or session alone cannot."""
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "disable":
        if required:
            messages.error(request, _("The team's policy requires two-factor login for you."))
            return redirect("two_factor_setup")
        if not request.user.is_verified():  # the middleware lets no such session here
            return redirect("two_factor_verify")
        if form.is_valid():
            if two_factor.totp_code_is_current(request.user, form.cleaned_data["code"]):
                two_factor.totp_remove(request.user)
                accounts.two_factor_changed(request=request, enabled=False)
                messages.success(request, _("Two-factor login is off for your account."))
                return redirect("two_factor_setup")
            form.add_error("code", _("That code is not valid. Codes change every 30 seconds."))
    context = {"enabled": True, "required": required, "form": form}
    status = 400 if request.method == "POST" else 200
    return render(request, "snapshots_ui/two_factor_setup.html", context, status=status)


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The top bar's language switch: kept on the account of a logged-in person, in a cookie
    for everyone (the log-in page included); an empty choice goes back to the browser's."""
    language = request.POST.get("language", "")
    if language and not languages.language_is_known(language):
        language = ""
    if request.user.is_authenticated:
        languages.account_language_set(user=request.user, language=language)
        request.session[languages.SESSION_LANGUAGE_KEY] = language
    response = redirect(_safe_next(request))
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response
