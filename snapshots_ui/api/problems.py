"""Every error of the API as RFC 9457 problem details (``application/problem+json``), with
the sentences the pages show. https://www.rfc-editor.org/rfc/rfc9457

A problem has ``type`` (a URN naming the kind, or ``about:blank`` for a plain HTTP error),
``title``, ``status``, ``detail`` (the sentence a person reads) and, for invalid input,
``errors``: each field's sentences.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from snapshots_ui import idempotency, provider, refusals
from snapshots_ui.api_tokens import TokenRefused
from snapshots_ui.fleet_cache import FleetUnavailable
from snapshots_ui.selectors import NotFound

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:snapshot-dashboard:problem:"
# Seconds a client should wait before retrying when the provider cannot be reached.
RETRY_AFTER_UNAVAILABLE = 30


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too-large"


def problem(
    status_code: int,
    *,
    kind: str | None,
    title: str,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, object] = {
        "type": f"{TYPE_PREFIX}{kind}" if kind else "about:blank",
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


# Refusals of the actions (services, lifecycle, workflows): kind, status, title.
_REFUSALS: list[tuple[type[Exception], str, int, str]] = [
    (refusals.NameInvalid, "name-invalid", 422, "Invalid snapshot name"),
    (refusals.SnapshotLimitReached, "snapshot-limit", 409, "Snapshot limit reached"),
    (refusals.ServerBusy, "server-busy", 409, "Server busy"),
    (refusals.AlreadyRunning, "already-running", 409, "Already running"),
    (refusals.NotRestorable, "not-restorable", 409, "Snapshot cannot be restored"),
    (refusals.SnapshotProtected, "snapshot-protected", 409, "Snapshot protected"),
    (idempotency.KeyReused, "idempotency-key-reused", 422, "Idempotency-Key reused"),
    (idempotency.KeyInUse, "idempotency-key-in-use", 409, "Idempotency-Key in use"),
    (TokenRefused, "token-refused", 400, "Token refused"),
]


def _provider_problem(exc: refusals.ProviderRefused) -> Response:
    error = exc.error
    if isinstance(error, provider.ProviderUnavailable):
        retry = str(RETRY_AFTER_UNAVAILABLE)
        return problem(503, kind="provider-unavailable", title="Provider unavailable",
                       detail=exc.message, headers={"Retry-After": retry})  # fmt: skip
    if isinstance(error, provider.ProviderNotFound):
        return problem(404, kind="not-found", title="Not found", detail=exc.message)
    if isinstance(error, provider.ProviderUnauthorized):
        return problem(502, kind="provider-token-rejected", title="Provider rejected the token",
                       detail=exc.message)  # fmt: skip
    return problem(422, kind="provider-refused", title="Provider refused", detail=exc.message)


def _refusal_problem(exc: refusals.ActionRefused) -> Response:
    if isinstance(exc, refusals.ProviderRefused):
        return _provider_problem(exc)
    for exc_type, kind, status_code, title in _REFUSALS:
        if isinstance(exc, exc_type):
            return problem(status_code, kind=kind, title=title, detail=exc.message)
    return problem(409, kind="refused", title="Refused", detail=exc.message)


def _field_errors(detail: object, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure flattened to ``{"field": ["sentence", ...]}``."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            flat.update(_field_errors(value, f"{prefix}.{name}" if prefix and name else name))
        return flat
    if isinstance(detail, list) and detail and all(not isinstance(d, dict | list) for d in detail):
        return {prefix or "request": [str(d) for d in detail]}
    if isinstance(detail, list):
        flat = {}
        for index, value in enumerate(detail):
            flat.update(_field_errors(value, f"{prefix}[{index}]"))
        return flat
    return {prefix or "request": [str(detail)]}


def _validation_problem(exc: exceptions.ValidationError) -> Response:
    errors = _field_errors(exc.detail)
    first = next(iter(errors.values()))[0] if errors else _("The request is not valid.")
    return problem(400, kind="invalid-request", title="Invalid request", detail=first,
                   errors=errors)  # fmt: skip


def _http_problem(exc: exceptions.APIException) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait)))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
        exc.status_code = 401
    title = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
             406: "Not acceptable", 413: "Request too large", 415: "Unsupported media type",
             429: "Too many requests"}.get(exc.status_code, "Error")  # fmt: skip
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem(exc.status_code, kind=None, title=title, detail=str(detail), headers=headers)


def exception_handler(exc: Exception, context: dict[str, object]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: every known failure as a problem; anything else is a bug
    (a 500, logged by Django)."""
    if isinstance(exc, refusals.ActionRefused):
        return _refusal_problem(exc)
    if isinstance(exc, NotFound):
        return problem(404, kind="not-found", title="Not found", detail=exc.message)
    if isinstance(exc, Http404):
        return problem(404, kind=None, title="Not found", detail=_("Nothing is at this address."))
    if isinstance(exc, FleetUnavailable):
        return problem(503, kind="provider-unavailable", title="Provider unavailable",
                       detail=_("The provider is not answering right now, and no data is "
                                "stored yet. Try again in a minute."),
                       headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})  # fmt: skip
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, exceptions.ValidationError):
        return _validation_problem(exc)
    if isinstance(exc, exceptions.APIException):
        return _http_problem(exc)
    return None
