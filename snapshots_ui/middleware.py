from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect
from django_otp import user_has_device

from snapshots_ui.roles import ADMIN, OPERATOR


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session expired is sent to the login page as a whole page.

    Without this the login page would be swapped into the element that asked for a partial.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            getattr(request, "htmx", False)
            and response.status_code == 302
            and response["Location"].startswith(resolve_url(settings.LOGIN_URL))
        ):
            # Back to the page the user was on (not the partial) after logging in.
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            target = resolve_url(settings.LOGIN_URL)
            if current.path:
                next_path = current.path + (f"?{current.query}" if current.query else "")
                target += "?" + urlencode({"next": next_path})
            return HttpResponseClientRedirect(target)
        return response


# Paths a logged-in user may reach before the second factor: the two-factor pages themselves,
# logging out, and what needs no login at all.
TWO_FACTOR_EXEMPT_PREFIXES = (
    "/login/",
    "/logout/",
    "/account/two-factor/",
    "/password-reset/",
    "/reset/",
    "/health/",
    "/static/",
    "/favicon.ico",
)


def two_factor_required(user) -> bool:  # type: ignore[no-untyped-def]
    """Whether the team's policy makes this user set up a second factor."""
    from snapshots_ui.models import SecurityPolicy

    if not SecurityPolicy.current().require_two_factor:
        return False
    return user.is_superuser or user.groups.filter(name__in=[OPERATOR, ADMIN]).exists()


class TwoFactorMiddleware:
    """A logged-in user with an authenticator must enter a code before anything else; one whom
    the policy requires to have one is sent to set it up. Runs after django-otp's middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is None
            or not user.is_authenticated
            or user.is_verified()
            or request.path.startswith(TWO_FACTOR_EXEMPT_PREFIXES)
        ):
            return self.get_response(request)
        if user_has_device(user, confirmed=True):
            target = reverse("two_factor_verify")
        elif two_factor_required(user):
            target = reverse("two_factor_setup")
        else:
            return self.get_response(request)
        target += "?" + urlencode({"next": request.get_full_path()})
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(target)
        return HttpResponseRedirect(target)


class ProviderDataMissingMiddleware:
    """A page that needs provider data, with none cached and the provider down, says so
    (503) instead of claiming the server or snapshot does not exist."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from snapshots_ui.views import ProviderDataMissing

        if isinstance(exception, ProviderDataMissing):
            return render(
                request,
                "snapshots_ui/provider_unavailable.html",
                {"fleet": exception.fleet_view},
                status=503,
            )
        return None
