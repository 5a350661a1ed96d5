"""What every API view shares: a cap on the body, the audit record of each call with the
token's name, the actor behind a token, and ``Idempotency-Key`` for POSTs.

The provider calls a request makes are foreground work in the provider budget, like a page's
(``ForegroundBudgetMiddleware`` wraps every request)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from snapshots_ui import idempotency
from snapshots_ui.api.problems import PayloadTooLarge, exception_handler
from snapshots_ui.audit import Actor, audit_record
from snapshots_ui.client_ip import client_ip
from snapshots_ui.models import ApiToken

IDEMPOTENCY_HEADER = "Idempotency-Key"


def actor_of(request: Request) -> Actor:
    token = request.auth
    return Actor(
        user=request.user,
        ip=client_ip(request._request),
        token=token.name if isinstance(token, ApiToken) else "",
    )


class ApiView(APIView):
    """Method → scope it needs (``access.HasScope``)."""

    scopes: dict[str, str] = {}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge(
                _("The request body may hold at most %(n)d bytes.")
                % {"n": settings.API_MAX_BODY_BYTES}
            )
        super().initial(request, *args, **kwargs)

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(getattr(request, "auth", None), ApiToken):
            audit_record(
                actor=actor_of(request),
                action="api.request",
                detail=f"{request.method} {request.path} → {response.status_code}",
            )
        return response


def _json_native(data: object) -> object:
    return json.loads(JSONRenderer().render(data))


def idempotent(request: Request, act: Callable[[], Response]) -> Response:
    """Carry out ``act`` once per ``Idempotency-Key`` (when one is sent); a repeat gets the
    first answer, with ``Idempotent-Replayed: true``."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return act()
    usable = key.isascii() and key.isprintable()
    if not usable or not 0 < len(key) <= idempotency.KEY_MAX_LENGTH:
        raise exceptions.ValidationError(
            {IDEMPOTENCY_HEADER: [_("Use 1 to 255 printable ASCII characters.")]}
        )
    fingerprint = idempotency.request_hash(
        method=request.method or "", path=request.path,
        body=json.dumps(request.data, sort_keys=True).encode(),
    )  # fmt: skip
    claim = idempotency.idempotency_claim(token=request.auth, key=key, fingerprint=fingerprint)
    if claim.replay is not None:
        status, body = claim.replay
        content_type = "application/problem+json" if status >= 400 else None
        response = Response(body, status=status, content_type=content_type)
        response["Idempotent-Replayed"] = "true"
        return response
    assert claim.row is not None
    try:
        response = act()
    except Exception as exc:
        handled = exception_handler(exc, {})
        if handled is None:
            idempotency.idempotency_complete(claim.row, status=500, body=None)
            raise
        response = handled
    idempotency.idempotency_complete(
        claim.row, status=response.status_code, body=_json_native(response.data)
    )
    return response
