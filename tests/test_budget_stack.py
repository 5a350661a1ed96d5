"""Two real Celery workers (with their beats) and a real Redis keep to one provider budget,
and the operations they follow still finish."""

from __future__ import annotations

import time

import pytest

from dashboard.celery import app as celery_app
from provider_sim import controls
from provider_sim.rate_limit import rate_limit_reset, throttled_count
from snapshots_ui import services
from snapshots_ui.audit import Actor
from snapshots_ui.models import Operation
from snapshots_ui.statuses import OperationState

pytestmark = pytest.mark.stack

SERVERS = (12345, 12346, 12350, 12351, 12360, 12370)


def test_two_workers_share_one_budget_and_still_finish(
    seeded_simulator, own_worker, operator, settings, queued_polls
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 8  # not done at the first poll: polls must come again
    actor = Actor(user=operator, ip=None)
    operations = []
    for server_id in SERVERS:
        if server_id == 12351:  # db-replica is at 5 of 5; make room
            continue
        operations.append(services.snapshot_create(actor=actor, server_id=server_id, name="b"))
    celery_app.control.purge()  # only the workers' beats queue polls here
    controls.reset_call_counts()
    rate_limit_reset()
    # 24 a minute, 6 of them kept for people: at most 18 background calls in any minute,
    # where polling 5 servers every second would make 5 a second. The simulator enforces 18
    # over every moving minute: one call past the shared budget would be answered 429.
    settings.VPS_SIM_RATE_LIMIT = 18
    budget = {"VPS_API_RATE_LIMIT": "24", "VPS_API_BACKGROUND_MAX_WAIT": "20"}
    for name in ("budget-a", "budget-b"):
        own_worker(name, **budget).start()

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and Operation.objects.active().exists():
        time.sleep(0.5)

    assert not Operation.objects.active().exists()
    assert {op.state for op in Operation.objects.filter(pk__in=[o.pk for o in operations])} == {
        OperationState.SUCCEEDED
    }
    assert throttled_count() == 0  # the two workers together never went past the budget
    assert controls.call_counts()["calls"] >= len(operations)  # each was followed at the provider
