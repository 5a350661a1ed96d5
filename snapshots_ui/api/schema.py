"""The OpenAPI schema's shared parts (drf-spectacular) and the interactive docs page, served
with the vendored Swagger UI (drf-spectacular-sidecar) under the strict CSP: no inline script
or style, the UI started by a static file."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from snapshots_ui.api.problems import PROBLEM_CONTENT_TYPE
from snapshots_ui.api.serializers import ProblemSerializer

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description="Any unique string (≤ 255 printable ASCII characters). A retry with the same "
    "key gets the first answer instead of acting twice; the same key with a different body "
    "is refused (422).",
)

_DESCRIPTIONS = {
    400: "Invalid input: `errors` holds each field's sentences.",
    401: "No token, or one that is unknown, revoked or expired.",
    403: "The token lacks the scope, or its owner's role no longer allows it.",
    404: "No such server, snapshot or operation.",
    409: "Refused by the dashboard's rules (limit reached, server busy, protected, ...).",
    413: "The body is too large.",
    415: "The body is not JSON.",
    422: "Refused: the provider said no, or the Idempotency-Key was used for another request.",
    429: "Too many requests for this token; see Retry-After.",
    502: "The provider rejected the dashboard's own token.",
    503: "The provider cannot be reached; nothing was changed. See Retry-After.",
}


def problems(*codes: int) -> dict[tuple[int, str], OpenApiResponse]:
    """Problem-details responses for the given status codes, for ``extend_schema``."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, _DESCRIPTIONS[code])
        for code in codes
    }


@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    """The interactive API documentation (Swagger UI)."""
    return render(request, "api/docs.html")
