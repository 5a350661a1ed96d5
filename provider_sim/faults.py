"""Injected faults: rules that make matching API requests slow, hang or fail.

A rule matches on an optional method and an optional substring of the path. Rules are tried
oldest first; the first matching rule with uses left applies (and uses one up). It holds the
answer back for ``latency_ms`` plus ``timeout_seconds`` (long enough, and clients time out).
Without a ``status`` the request is still served, so a create or restore happens even if the
client stops waiting; with one, the request is not served and the answer is that status with
the chosen kind of body.
"""

import json
from http import HTTPStatus
from typing import Any

from django.db.models import F, Q
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape

from provider_sim.models import SimFault

RULE_FIELDS = (
    "method",
    "path_contains",
    "status",
    "retry_after",
    "latency_ms",
    "timeout_seconds",
    "body",
    "error_shape",
    "message",
    "times",
)


class FaultRuleError(ValueError):
    """An invalid rule; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def fault_rule_clean(data: dict[str, Any]) -> dict[str, Any]:
    """Check a rule as given to the control API and return the model's field values."""
    unknown = sorted(set(data) - set(RULE_FIELDS))
    errors = {"non_field_errors": [f"Unknown fields: {', '.join(unknown)}."]} if unknown else {}

    def check(field: str, ok: bool, message: str) -> None:
        if field in data and data[field] is not None and not ok:
            errors[field] = [message]

    method = data.get("method")
    path_contains = data.get("path_contains")
    status = data.get("status")
    retry_after = data.get("retry_after")
    latency_ms = data.get("latency_ms") or 0
    timeout_seconds = data.get("timeout_seconds") or 0
    body = data.get("body") or SimFault.Body.JSON
    error_shape = data.get("error_shape") or SimFault.ErrorShape.DETAIL
    message = data.get("message") or ""
    times = data.get("times")

    check("method", isinstance(method, str) and method.isalpha(), "Must be an HTTP method.")
    check("path_contains", isinstance(path_contains, str), "Must be a string.")
    check("status", _is_int(status) and 200 <= status <= 599, "Must be an HTTP status code.")
    check("retry_after", _is_int(retry_after) and retry_after >= 0, "Must be seconds (>= 0).")
    check("latency_ms", _is_int(latency_ms) and latency_ms >= 0, "Must be milliseconds (>= 0).")
    check("timeout_seconds", _is_seconds(timeout_seconds), "Must be seconds (>= 0).")
    for field, value, choices in (
        ("body", body, SimFault.Body.values),
        ("error_shape", error_shape, SimFault.ErrorShape.values),
    ):
        check(field, value in choices, f"Must be one of {choices}.")
    check("message", isinstance(message, str) and len(message) <= 255, "Must be a short string.")
    check("times", _is_int(times) and times >= 1, "Must be a count (>= 1) or null.")
    if not errors and status is None and not latency_ms and not timeout_seconds:
        errors["non_field_errors"] = ["A rule needs a status, latency_ms or timeout_seconds."]
    if errors:
        raise FaultRuleError(errors)
    return {
        "method": (method or "").upper(),
        "path_contains": path_contains or "",
        "status": status,
        "retry_after": retry_after,
        "latency_ms": latency_ms,
        "timeout_seconds": float(timeout_seconds),
        "body": body,
        "error_shape": error_shape,
        "message": message,
        "remaining": times,
    }


def fault_to_dict(fault: SimFault) -> dict[str, Any]:
    return {
        "id": fault.pk,
        "method": fault.method or None,
        "path_contains": fault.path_contains or None,
        "status": fault.status,
        "retry_after": fault.retry_after,
        "latency_ms": fault.latency_ms,
        "timeout_seconds": fault.timeout_seconds,
        "body": fault.body,
        "error_shape": fault.error_shape,
        "message": fault.message or None,
        "times": fault.remaining,
    }


def fault_claim(*, method: str, path: str) -> SimFault | None:
    """The rule that applies to this request, with one of its uses taken, or None.

    Taking a use is a conditional update, so concurrent requests never use a rule more often
    than its ``times`` allow.
    """
    candidates = SimFault.objects.filter(
        Q(method="") | Q(method=method.upper()),
        Q(remaining__isnull=True) | Q(remaining__gt=0),
    )
    for fault in candidates:
        if fault.path_contains not in path:
            continue
        if fault.remaining is None:
            return fault
        taken = SimFault.objects.filter(pk=fault.pk, remaining__gt=0).update(
            remaining=F("remaining") - 1
        )
        if taken:
            return fault
    return None


def _default_message(status: int, retry_after: int | None) -> str:
    if status == 401:
        return "Invalid token."
    if status == 404:
        return "Not found."
    if status == 429:
        wait = f" Expected available in {retry_after} seconds." if retry_after else ""
        return f"Request was throttled.{wait}"
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:
        return "Error."


def fault_response(fault: SimFault) -> HttpResponse:
    """The answer a rule with a ``status`` gives instead of the real one."""
    assert fault.status is not None
    status = fault.status
    message = fault.message or _default_message(status, fault.retry_after)
    response: HttpResponse
    if fault.body == SimFault.Body.HTML:
        try:
            title = f"{status} {HTTPStatus(status).phrase}"
        except ValueError:
            title = str(status)
        page = (
            f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
            f"<body><center><h1>{title}</h1></center>\n<p>{escape(message)}</p>\n"
            "<hr><center>nginx</center>\n</body></html>\n"
        )
        response = HttpResponse(page, status=status, content_type="text/html; charset=utf-8")
    elif fault.body == SimFault.Body.MALFORMED:
        full = json.dumps({fault.error_shape: message})
        response = HttpResponse(
            full[: len(full) // 2], status=status, content_type="application/json"
        )
    elif fault.body == SimFault.Body.EMPTY:
        response = HttpResponse(b"", status=status, content_type="text/plain")
    else:
        response = JsonResponse({fault.error_shape: message}, status=status)
    if fault.retry_after is not None:
        response["Retry-After"] = str(fault.retry_after)
    return response
