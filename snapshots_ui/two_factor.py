"""Two-factor login (TOTP through django-otp): the team's policy, the middleware that enforces
it, and setting an authenticator app up or removing it."""

from __future__ import annotations

from base64 import b32encode
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from snapshots_ui.models import SecurityPolicy
from snapshots_ui.roles import ADMIN, OPERATOR

# What a logged-in user may reach before the second factor, besides the code page (with an
# authenticator) or the set-up page (without one, when the policy requires it).
ALWAYS_OPEN_PREFIXES = ("/logout/", "/health/", "/static/", "/favicon.ico")
VERIFY_PATH = "/login/verify/"
SETUP_PATH = "/account/two-factor/"
DEVICE_NAME = "Authenticator app"


def two_factor_required(user: AbstractBaseUser) -> bool:
    """Whether the team's policy makes this user set up a second factor."""
    if not SecurityPolicy.current().require_two_factor:
        return False
    return user.is_superuser or user.groups.filter(name__in=[OPERATOR, ADMIN]).exists()  # type: ignore[attr-defined]


def totp_confirmed_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def totp_pending_device(user: AbstractBaseUser, *, key: str) -> TOTPDevice:
    """An unsaved device for a key being set up, for its QR code and secret."""
    return TOTPDevice(user=user, name=DEVICE_NAME, key=key, confirmed=False)


def totp_new_key() -> str:
    return default_key()


def totp_secret(device: TOTPDevice) -> str:
    """The key as people type it into an app that cannot scan."""
    return b32encode(device.bin_key).decode()


def totp_confirm(user: AbstractBaseUser, *, key: str, code: str) -> TOTPDevice | None:
    """Save the device for ``key`` once ``code`` proves the app has it; None if it does not."""
    device, _created = TOTPDevice.objects.update_or_create(
        user=user, confirmed=False, defaults={"key": key, "name": DEVICE_NAME}
    )
    if not device.verify_token(code):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


def totp_remove(user: AbstractBaseUser) -> None:
    TOTPDevice.objects.filter(user=user).delete()


def totp_code_is_current(user: AbstractBaseUser, code: str) -> bool:
    """Whether ``code`` is valid now for the user's authenticator (each code works once)."""
    device = totp_confirmed_device(user)
    return device is not None and device.verify_token(code)


class TwoFactorMiddleware:
    """A logged-in user with an authenticator must enter a code before anything else: until
    then the session reaches only the code page and log-out (a password alone can change
    nothing, two-factor included). One whom the policy requires to have an authenticator is
    sent to set it up. Runs after django-otp's middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is None
            or not user.is_authenticated
            or user.is_verified()
            or request.path.startswith(ALWAYS_OPEN_PREFIXES)
        ):
            return self.get_response(request)
        if user_has_device(user, confirmed=True):
            if request.path == VERIFY_PATH:
                return self.get_response(request)
            target = reverse("two_factor_verify")
        elif two_factor_required(user):
            if request.path == SETUP_PATH:
                return self.get_response(request)
            target = reverse("two_factor_setup")
        else:
            return self.get_response(request)
        target += "?" + urlencode({"next": request.get_full_path()})
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(target)
        return HttpResponseRedirect(target)
