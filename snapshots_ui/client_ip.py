"""The address a request came from, trusting only as many proxies as configured."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or with ``TRUSTED_PROXY_COUNT`` proxies in front, the address the
    outermost trusted proxy saw (taken from the end of X-Forwarded-For, which a client cannot
    forge past those proxies)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def axes_client_ip(request: HttpRequest) -> str | None:
    return client_ip(request)
