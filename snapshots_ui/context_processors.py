from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from snapshots_ui.selectors import PROVIDER_PROBLEM_KEY


def provider(request: HttpRequest) -> dict[str, object]:
    """The provider's host for the footer (never the token), and the last provider problem
    for the banner on pages that do not read provider data themselves (read only if shown)."""
    return {
        "provider_host": urlsplit(settings.VPS_API_BASE_URL).netloc,
        "provider_problem": SimpleLazyObject(lambda: cache.get(PROVIDER_PROBLEM_KEY) or {}),
    }
