"""Database queries per page stay bounded however many operations and servers there are."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provider_sim.seed import DEMO_SERVERS
from provider_sim.server import RunningSimulator
from snapshots_ui import fleet_cache
from snapshots_ui.models import Operation
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory
from tests.views.helpers import (
    WEB,
    fleet_rows,
    page_text,
)


def _operations_everywhere(count: int) -> None:
    """``count`` more operations, spread over the demo servers and over running and ended."""
    states = [OperationState.IN_PROGRESS, OperationState.SUCCEEDED, OperationState.FAILED]
    for index in range(count):
        server_id, name, *_ = DEMO_SERVERS[index % len(DEMO_SERVERS)]
        state = states[index % len(states)]
        OperationFactory(
            server_id=server_id,
            server_name=name,
            state=state,
            finished_at=None if state == OperationState.IN_PROGRESS else timezone.now(),
        )


@pytest.mark.parametrize(
    ("path", "bound"), [("/", 13), (f"/servers/{WEB}/", 16), ("/activity/", 10)]
)
def test_page_queries_do_not_grow_with_operations(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
    path: str,
    bound: int,
) -> None:
    _operations_everywhere(3)
    fleet_cache.fleet_current()  # the provider's lists are cached from here on
    with CaptureQueriesContext(connection) as few:
        viewer_client.get(path)
    _operations_everywhere(30)  # also a new key for the fleet table's shared rendering

    with django_assert_max_num_queries(min(bound, len(few))):
        response = viewer_client.get(path)

    assert response.status_code == 200
    running = Operation.objects.active().count()
    assert running == 11
    if path == "/":
        assert response.content.decode().count('class="chip chip-in_progress"') == running
    elif path == "/activity/":
        assert response.content.decode().count("<td>Create snapshot</td>") == 33


def test_fleet_page_queries_do_not_grow_with_servers(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    from provider_sim.seed import seed_bulk

    _operations_everywhere(3)
    fleet_cache.fleet_current()
    with CaptureQueriesContext(connection) as few:
        viewer_client.get("/")
    seed_bulk(300, 1)
    fleet_cache.fleet_invalidate()
    fleet_cache.fleet_current()

    with django_assert_max_num_queries(len(few)):
        response = viewer_client.get("/")

    assert response.status_code == 200
    assert f"{len(DEMO_SERVERS) + 300} servers at the provider." in page_text(response)
    assert len(fleet_rows(response)) == 100  # the first page of them


def test_status_partial_costs_a_fixed_handful_of_queries(
    viewer_client: Client,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    _operations_everywhere(30)
    operation = Operation.objects.active().first()
    assert operation is not None
    viewer_client.get(f"/operations/{operation.pk}/", headers={"HX-Request": "true"})

    # Session, user, permissions (2), two-factor device and policy, the operation.
    with django_assert_max_num_queries(7):
        response = viewer_client.get(f"/operations/{operation.pk}/", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert f'id="operation-{operation.pk}"' in response.content.decode()
