"""What can go wrong talking to the provider. No ``requests`` exception escapes the client:
every failure is one of these, and its ``message`` is safe to show a user."""

from __future__ import annotations

from collections.abc import Mapping


class ProviderError(Exception):
    """Base of every failure talking to the provider; ``message`` is safe to show a user."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class ProviderUnavailable(ProviderError):
    """Retry later: timeout, connection error, 5xx, 429, or an answer that cannot be read."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class ProviderUnauthorized(ProviderError):
    """401/403: the API token is missing, wrong or revoked. Retrying will not help."""


class ProviderNotFound(ProviderError):
    """404: the server or snapshot does not exist (any more)."""


class ProviderRejected(ProviderError):
    """Any other 4xx: the provider refused the request and said why in ``message``."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        field_errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.field_errors = dict(field_errors or {})
