"""The simulated provider's API (``/api/v1/``); the control API is in ``control_views``.

Bodies follow the provider's published examples; error bodies follow the conventions the
project assumes (``{"detail": ...}`` or field errors such as ``{"name": [...]}``).
"""

import hmac
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.paginator import InvalidPage, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from provider_sim import controls
from provider_sim.faults import fault_claim, fault_response
from provider_sim.models import SimFault, SimServer, SimSnapshot
from provider_sim.rate_limit import rate_limit_wait
from provider_sim.services import (
    NOT_FOUND,
    ApiError,
    operations_advance,
    snapshot_create,
    snapshot_delete,
    snapshot_restore,
)

View = Callable[..., HttpResponse]

API_PREFIX = "/api/v1/"
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_ID = 2**63 - 1
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
NAME_MAX_LENGTH = 64
DESCRIPTION_MAX_LENGTH = 255
CREATE_MESSAGE = "Snapshot is being created. This may take 3-10 minutes depending on server size."
RESTORE_MESSAGE = "Server is being restored from snapshot. This may take 5-15 minutes."


# --- Plumbing shared by both APIs ------------------------------------------------------------


def no_content() -> HttpResponse:
    response = HttpResponse(status=204)
    del response["Content-Type"]
    return response


def auth_rejection(
    request: HttpRequest, *, token: str, methods: tuple[str, ...]
) -> HttpResponse | None:
    """A 401 unless the request carries ``Bearer <token>``, then a 405 for other methods."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        detail = "Authentication credentials were not provided."
    elif not hmac.compare_digest(given.encode(), token.encode()):
        detail = "Invalid token."
    else:
        detail = ""
    if detail:
        response = JsonResponse({"detail": detail}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if request.method not in methods:
        response = JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
        response["Allow"] = ", ".join(methods)
        return response
    return None


def _hold(request: HttpRequest, fault: SimFault) -> None:
    """Wait for the fault's latency and timeout; wake at once if the simulator stops.

    Served by ``server.py``, the request has a thread of its own: its database connections
    are closed first, so that a long hold keeps none open.
    """
    seconds = fault.latency_ms / 1000 + fault.timeout_seconds
    if not seconds:
        return
    stopping = getattr(request, "simulator_stopping", None)
    if stopping is None:
        time.sleep(seconds)
        return
    connections.close_all()
    stopping.wait(seconds)


def api_endpoint(route: str, *methods: str) -> Callable[[View], View]:
    """Serve a provider endpoint as the provider would serve every request.

    In order: count the call as ``"METHOD /api/v1/<route>"``, answer 429 past the simulated
    rate limit (``provider_sim.rate_limit``), finish operations that are due,
    look for an injected fault, check the token (401) and the method (405), run the view (an
    ``ApiError`` becomes its JSON answer). A fault with a status is held, then answers
    instead of all that; a fault without one lets the request be served and holds the answer,
    so work is done even when the client gives up waiting, as with a slow provider.
    """

    def decorator(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            controls.record_call(f"{request.method} {API_PREFIX}{route}")
            if (wait := rate_limit_wait()) is not None:
                response = JsonResponse(
                    {"detail": f"Request was throttled. Expected available in {wait} seconds."},
                    status=429,
                )
                response["Retry-After"] = str(wait)
                return response
            operations_advance()
            fault = fault_claim(method=request.method or "", path=request.path)
            if fault is not None and fault.status is not None:
                _hold(request, fault)
                return fault_response(fault)
            response = auth_rejection(request, token=controls.current_token(), methods=methods)
            if response is None:
                try:
                    response = view(request, *args, **kwargs)
                except ApiError as exc:
                    response = JsonResponse(exc.body, status=exc.status)
            if fault is not None:
                _hold(request, fault)
            return response

        return wrapper

    return decorator


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object in the body ({} for no body); 400 for anything else."""
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except ValueError as exc:
        raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from exc
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ApiError(
            400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
        )
    return data


def as_id(value: Any) -> int | None:
    """An integer id from JSON or a query string, or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        value = int(value)
    if isinstance(value, int) and -MAX_ID <= value <= MAX_ID:
        return value
    return None


def _path_id(value: int) -> int:
    if value > MAX_ID:
        raise ApiError(404, NOT_FOUND)
    return value


# --- Payloads --------------------------------------------------------------------------------


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _server_payload(server: SimServer) -> dict[str, Any]:
    return {
        "id": server.pk,
        "name": server.name,
        "status": server.status,
        "ip_address": server.ip_address,
        "region": server.region,
        "plan": server.plan,
        "disk_gb": server.disk_gb,
    }


def _snapshot_payload(snapshot: SimSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.pk,
        "server": {"id": snapshot.server.pk, "name": snapshot.server.name},
        "name": snapshot.name,
        "status": snapshot.status,
        "size_mb": snapshot.size_mb,
        "created_at": _timestamp(snapshot.created_at),
        "description": snapshot.description,
    }


def _page_url(request: HttpRequest, number: int) -> str:
    query = request.GET.copy()
    if number == 1:
        query.pop("page", None)
    else:
        query["page"] = str(number)
    encoded = query.urlencode()
    return request.build_absolute_uri(f"{request.path}?{encoded}" if encoded else request.path)


def _page(
    request: HttpRequest, queryset: QuerySet[Any], to_payload: Callable[[Any], dict[str, Any]]
) -> JsonResponse:
    """One page (``?page=N``, ``VPS_SIM_PAGE_SIZE`` items) with absolute next/previous links."""
    paginator = Paginator(queryset, settings.VPS_SIM_PAGE_SIZE)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except InvalidPage as exc:
        raise ApiError(404, {"detail": "Invalid page."}) from exc
    return JsonResponse(
        {
            "count": paginator.count,
            "next": _page_url(request, page.next_page_number()) if page.has_next() else None,
            "previous": (
                _page_url(request, page.previous_page_number()) if page.has_previous() else None
            ),
            "results": [to_payload(item) for item in page.object_list],
        }
    )


# --- The provider's API ----------------------------------------------------------------------


def _create_arguments(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    server_id = as_id(data.get("server_id"))
    if data.get("server_id") is None:
        errors["server_id"] = ["This field is required."]
    elif server_id is None:
        errors["server_id"] = ["A valid integer is required."]

    name = data.get("name")
    if name is None:
        errors["name"] = ["This field is required."]
    elif not isinstance(name, str):
        errors["name"] = ["Not a valid string."]
    elif not name:
        errors["name"] = ["This field may not be blank."]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [f"Ensure this field has no more than {NAME_MAX_LENGTH} characters."]
    elif not NAME_PATTERN.fullmatch(name):
        errors["name"] = [
            "Snapshot names may contain only letters, digits, dashes and underscores."
        ]

    description = data.get("description")
    if description is None:
        description = ""
    elif not isinstance(description, str):
        errors["description"] = ["Not a valid string."]
    elif len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [
            f"Ensure this field has no more than {DESCRIPTION_MAX_LENGTH} characters."
        ]

    if errors:
        raise ApiError(400, errors)
    return {"server_id": server_id, "name": name, "description": description}


@api_endpoint("snapshots/", "GET", "POST")
def snapshots(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        snapshot = snapshot_create(**_create_arguments(json_body(request)))
        return JsonResponse({**_snapshot_payload(snapshot), "message": CREATE_MESSAGE}, status=201)
    queryset = SimSnapshot.objects.select_related("server").order_by("-created_at", "-id")
    raw_server_id = request.GET.get("server_id", "")
    if raw_server_id != "":
        server_id = as_id(raw_server_id)
        if server_id is None:
            raise ApiError(400, {"server_id": ["A valid integer is required."]})
        queryset = queryset.filter(server_id=server_id)
    return _page(request, queryset, _snapshot_payload)


@api_endpoint("snapshots/{id}/", "DELETE")
def snapshot_detail(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    snapshot_delete(snapshot_id=_path_id(snapshot_id))
    return no_content()


@api_endpoint("snapshots/{id}/restore/", "POST")
def snapshot_restore_view(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    json_body(request)  # the provider expects no body, but a malformed one is still a 400
    snapshot = snapshot_restore(snapshot_id=_path_id(snapshot_id))
    server = snapshot.server
    return JsonResponse(
        {
            "status": "success",
            "message": RESTORE_MESSAGE,
            "snapshot": {
                "id": snapshot.pk,
                "name": snapshot.name,
                "created_at": _timestamp(snapshot.created_at),
            },
            "server": {"id": server.pk, "name": server.name, "status": server.status},
        }
    )


@api_endpoint("servers/", "GET")
def servers(request: HttpRequest) -> HttpResponse:
    return _page(request, SimServer.objects.order_by("id"), _server_payload)


@api_endpoint("servers/{id}/", "GET")
def server_detail(request: HttpRequest, server_id: int) -> HttpResponse:
    server = SimServer.objects.filter(pk=_path_id(server_id)).first()
    if server is None:
        raise ApiError(404, NOT_FOUND)
    return JsonResponse(_server_payload(server))


@api_endpoint("(unknown)", *ALL_METHODS)
def unknown_endpoint(request: HttpRequest) -> HttpResponse:
    raise ApiError(404, NOT_FOUND)
