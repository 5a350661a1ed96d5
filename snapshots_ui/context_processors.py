from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from snapshots_ui.fleet_cache import provider_problem_current


def provider(request: HttpRequest) -> dict[str, object]:
    """The provider's host for the footer (never the token), and the last provider problem
    for the banner on pages that do not read provider data themselves (read only if shown)."""
    return {
        "provider_host": urlsplit(settings.VPS_API_BASE_URL).netloc,
        "provider_problem": SimpleLazyObject(lambda: provider_problem_current() or ""),
    }
