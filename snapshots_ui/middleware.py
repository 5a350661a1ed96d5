"""Middleware that turns session expiry and missing provider data into pages a person can use."""

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django_htmx.http import HttpResponseClientRedirect

from snapshots_ui.fleet_cache import FleetUnavailable
from snapshots_ui.selectors import NotFound


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


class ProviderLookupMiddleware:
    """A page that needs a server or snapshot the provider does not know is a 404 with a
    sentence; one that needs provider data, with none stored and the provider down, says so
    (503) instead of claiming the server or snapshot does not exist."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, FleetUnavailable):
            return render(
                request,
                "snapshots_ui/provider_unavailable.html",
                {"fleet": exception.view},
                status=503,
            )
        if isinstance(exception, NotFound):
            return render(request, "404.html", {"exception": exception.message}, status=404)
        return None
