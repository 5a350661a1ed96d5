"""The simulator's control API (``/_sim/``): faults, the accepted token, call counts, reset
and bulk seeding. Every endpoint needs ``settings.VPS_SIM_TOKEN``."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from provider_sim import controls
from provider_sim.faults import FaultRuleError, fault_to_dict
from provider_sim.models import SimFault, SimServer, SimSnapshot
from provider_sim.rate_limit import rate_limit_reset, throttled_count
from provider_sim.seed import seed_bulk
from provider_sim.services import ApiError
from provider_sim.views import View, as_id, auth_rejection, json_body, no_content


def control_endpoint(*methods: str) -> Callable[[View], View]:
    """A ``/_sim/`` endpoint: needs ``settings.VPS_SIM_TOKEN`` even while it is overridden."""

    def decorator(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            rejection = auth_rejection(request, token=settings.VPS_SIM_TOKEN, methods=methods)
            if rejection is not None:
                return rejection
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return JsonResponse(exc.body, status=exc.status)
            except FaultRuleError as exc:
                return JsonResponse(exc.errors, status=400)

        return wrapper

    return decorator


@control_endpoint("GET", "POST", "DELETE")
def control_faults(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        fault_id = controls.add_fault(**json_body(request))
        return JsonResponse(fault_to_dict(SimFault.objects.get(pk=fault_id)), status=201)
    if request.method == "DELETE":
        controls.clear_faults()
        return no_content()
    return JsonResponse({"results": controls.list_faults()})


@control_endpoint("POST", "DELETE")
def control_token(request: HttpRequest) -> HttpResponse:
    token = None if request.method == "DELETE" else json_body(request).get("token")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ApiError(400, {"token": ["Must be a non-empty string or null."]})
    controls.set_token(token)
    return JsonResponse({"token": controls.current_token(), "overridden": token is not None})


@control_endpoint("GET", "DELETE")
def control_stats(request: HttpRequest) -> HttpResponse:
    if request.method == "DELETE":
        controls.reset_call_counts()
        rate_limit_reset()
        return no_content()
    return JsonResponse({**controls.call_counts(), "throttled": throttled_count()})


@control_endpoint("POST")
def control_reset(request: HttpRequest) -> HttpResponse:
    controls.reset_state()
    return JsonResponse({"detail": "The simulator holds the demo data again."})


@control_endpoint("POST")
def control_seed(request: HttpRequest) -> HttpResponse:
    data = json_body(request)
    errors: dict[str, list[str]] = {}
    servers_wanted = as_id(data.get("servers"))
    per_server = as_id(data.get("snapshots_per_server", 0))
    if servers_wanted is None or not 1 <= servers_wanted <= 100_000:
        errors["servers"] = ["Must be an integer from 1 to 100000."]
    if per_server is None or not 0 <= per_server <= 5:
        errors["snapshots_per_server"] = ["Must be an integer from 0 to 5 (the provider's limit)."]
    if errors:
        raise ApiError(400, errors)
    assert servers_wanted is not None
    assert per_server is not None
    seed_bulk(servers_wanted, per_server)
    return JsonResponse(
        {"servers": SimServer.objects.count(), "snapshots": SimSnapshot.objects.count()},
        status=201,
    )
