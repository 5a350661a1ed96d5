"""Middleware: how long a session lasts, and turning session expiry and missing provider data
into pages a person can use."""

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django_htmx.http import HttpResponseClientRedirect

from snapshots_ui.accounts import SESSION_ACTIVITY_KEY, SESSION_STARTED_KEY
from snapshots_ui.fleet_cache import FleetUnavailable
from snapshots_ui.health import health_report
from snapshots_ui.provider import budget
from snapshots_ui.selectors import NotFound

# Requests an open page makes by itself (status polls) carry this header; they are not
# activity, so a page left open does not keep its session alive.
BACKGROUND_HEADER = "X-Dashboard-Poll"
# Activity is written to the session at most this often.
_ACTIVITY_WRITE_SECONDS = 5


class HealthProbeMiddleware:
    """Answers ``GET /health/`` before anything reads the Host header, so first in the list.

    The container's own health check asks ``127.0.0.1:8000``, a host production's
    ``ALLOWED_HOSTS`` rightly refuses (HTTP 400), and load balancers often send their own.
    Every other path, and every other method, is still checked as before.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != "/health/" or request.method != "GET":
            return self.get_response(request)
        body, status = health_report()
        response = JsonResponse(body, status=status)
        add_never_cache_headers(response)
        return response


def _page_path(request: HttpRequest) -> str:
    """The page the person was on: for htmx the page that asked, not the partial."""
    if getattr(request, "htmx", False):
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        return current.path + (f"?{current.query}" if current.query else "")
    if request.method == "GET":
        return request.get_full_path()
    referer = urlsplit(request.headers.get("Referer", ""))
    return referer.path if referer.netloc == request.get_host() else ""


def login_redirect(request: HttpRequest, **params: str) -> HttpResponse:
    """To the log-in page as a whole page (htmx included), back to this page afterwards."""
    next_path = _page_path(request)
    query = {**params, **({"next": next_path} if next_path else {})}
    target = resolve_url(settings.LOGIN_URL) + ("?" + urlencode(query) if query else "")
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(target)
    return HttpResponseRedirect(target)


class ForegroundBudgetMiddleware:
    """A page request's calls to the provider are a person's: foreground in the provider
    budget (``snapshots_ui.provider.budget``), never queued behind background work."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with budget.foreground():
            return self.get_response(request)


class SessionLifetimeMiddleware:
    """End a session after ``SESSION_IDLE_SECONDS`` without activity or
    ``SESSION_MAX_SECONDS`` after log-in. Background requests (``BACKGROUND_HEADER``) are
    not activity. The log-in page then says why (``?signed_out=idle`` or ``max``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.get_response(request)
        session = request.session
        now = timezone.now().timestamp()
        started = session.setdefault(SESSION_STARTED_KEY, now)
        last_activity = session.setdefault(SESSION_ACTIVITY_KEY, now)
        if now - started > settings.SESSION_MAX_SECONDS:
            return self._end(request, "max")
        if now - last_activity > settings.SESSION_IDLE_SECONDS:
            return self._end(request, "idle")
        background = request.headers.get(BACKGROUND_HEADER) == "1"
        if not background and now - last_activity >= _ACTIVITY_WRITE_SECONDS:
            session[SESSION_ACTIVITY_KEY] = now
        return self.get_response(request)

    @staticmethod
    def _end(request: HttpRequest, reason: str) -> HttpResponse:
        request.session_end_reason = {  # type: ignore[attr-defined]
            "idle": f"signed out after {settings.SESSION_IDLE_SECONDS} s without activity",
            "max": f"signed out {settings.SESSION_MAX_SECONDS} s after logging in",
        }[reason]
        logout(request)
        return login_redirect(request, signed_out=reason)


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
            return login_redirect(request)
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
