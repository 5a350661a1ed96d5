"""Run-time controls of the simulator, for tests in the same process and the ``/_sim/`` API.

Everything is stored in the database, so a change is seen at once by every thread and process
serving the simulator.
"""

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from provider_sim.faults import fault_rule_clean, fault_to_dict
from provider_sim.models import SimCallCount, SimFault, SimServer, SimTokenOverride
from provider_sim.seed import seed_demo_data


def add_fault(**rule: Any) -> int:
    """Add a fault rule (fields as in ``provider_sim.faults``) and return its id.

    Raises ``FaultRuleError`` (a ``ValueError``) for an invalid rule.
    """
    return SimFault.objects.create(**fault_rule_clean(rule)).pk


def list_faults() -> list[dict[str, Any]]:
    return [fault_to_dict(fault) for fault in SimFault.objects.all()]


def clear_faults() -> None:
    """Remove every fault rule and accept the configured token again."""
    SimFault.objects.all().delete()
    SimTokenOverride.objects.all().delete()


def set_token(token: str | None) -> None:
    """Make the API accept ``token`` only (None: back to ``settings.VPS_SIM_TOKEN``)."""
    if token is None:
        SimTokenOverride.objects.all().delete()
    else:
        SimTokenOverride.objects.update_or_create(pk=1, defaults={"token": token})


def current_token() -> str:
    override = SimTokenOverride.objects.filter(pk=1).values_list("token", flat=True).first()
    return settings.VPS_SIM_TOKEN if override is None else override


def record_call(endpoint: str) -> None:
    """Count one API request; exact under concurrent requests (one row per endpoint)."""
    counter = SimCallCount.objects.filter(endpoint=endpoint)
    if counter.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            SimCallCount.objects.create(endpoint=endpoint, count=1)
    except IntegrityError:  # another request created the row first
        counter.update(count=F("count") + 1)


def call_counts() -> dict[str, Any]:
    """``{"calls": total, "by_endpoint": {"GET /api/v1/snapshots/": n, ...}}``."""
    by_endpoint = dict(SimCallCount.objects.values_list("endpoint", "count"))
    return {"calls": sum(by_endpoint.values()), "by_endpoint": by_endpoint}


def reset_call_counts() -> None:
    SimCallCount.objects.all().delete()


def reset_state() -> None:
    """Forget everything (servers, snapshots, faults, token, counters) and reseed the demo."""
    with transaction.atomic():
        SimServer.objects.all().delete()  # snapshots go with their servers
        clear_faults()
        reset_call_counts()
    seed_demo_data()
