from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest


def provider(request: HttpRequest) -> dict[str, str]:
    """The provider's host for the footer (never the token)."""
    return {"provider_host": urlsplit(settings.VPS_API_BASE_URL).netloc}
