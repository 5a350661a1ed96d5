"""The fleet page: every server with its snapshot usage, the name filter, and the operations
in progress."""

from __future__ import annotations

import pytest
from django.test import Client

from provider_sim.seed import DEMO_SERVERS
from provider_sim.server import RunningSimulator
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory
from tests.views.helpers import (
    EMPTY,
    OLDER,
    PRIMARY,
    REPLICA,
    WEB,
    demo_snapshot_counts,
    fleet_rows,
    htmx_headers,
    page_text,
)


def test_fleet_lists_every_server_with_its_snapshot_usage(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    response = viewer_client.get("/")

    assert response.status_code == 200
    rows = fleet_rows(response)
    assert set(rows) == {server_id for server_id, *_ in DEMO_SERVERS}
    counts = demo_snapshot_counts()
    for server_id, name, *_ in DEMO_SERVERS:
        assert name in rows[server_id]
        assert f"{counts[server_id]} of 5" in rows[server_id]
    assert "0 of 5" in rows[EMPTY]  # a server without snapshots is listed too
    assert "5 of 5" in rows[REPLICA]
    assert f"{len(DEMO_SERVERS)} servers at the provider." in page_text(response)


def test_fleet_shows_server_states(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    rows = fleet_rows(viewer_client.get("/"))

    assert "Running" in rows[WEB]
    assert "Stopped" in rows[PRIMARY]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("web", {WEB, 12346}),
        ("WEB-SERVER-01", {WEB}),
        ("  db-  ", {PRIMARY, REPLICA}),
    ],
)
def test_fleet_filter_by_name(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    query: str,
    expected: set[int],
) -> None:
    response = viewer_client.get("/", {"q": query})

    assert set(fleet_rows(response)) == expected
    assert f"{len(DEMO_SERVERS)} servers at the provider." in page_text(response)


def test_fleet_filter_without_match_says_so_and_escapes_the_query(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    response = viewer_client.get("/", {"q": "<b>nothing</b>"})

    assert fleet_rows(response) == {}
    assert "No server name contains “<b>nothing</b>”." in page_text(response)
    assert "<b>nothing</b>" not in response.content.decode()


def test_fleet_htmx_filter_returns_only_the_table(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    response = viewer_client.get("/", {"q": "replica"}, headers=htmx_headers("fleet-table"))

    body = response.content.decode().strip()
    assert response.status_code == 200
    assert body.startswith('<div id="fleet-table"')
    assert "<html" not in body
    assert 'id="fleet-q"' not in body  # the filter form is not part of the partial
    assert set(fleet_rows(response)) == {REPLICA}


def test_fleet_htmx_request_for_another_target_gets_the_whole_page(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    """A history restore sends HX-Request without a target and needs the whole page."""

    response = viewer_client.get(
        "/", headers={**htmx_headers(), "HX-History-Restore-Request": "true"}
    )

    assert "<html" in response.content.decode()
    assert len(fleet_rows(response)) == len(DEMO_SERVERS)


def test_fleet_answers_that_vary_on_htmx_headers_say_so(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    response = viewer_client.get("/", headers=htmx_headers("fleet-table"))

    vary = {part.strip().lower() for part in response.get("Vary", "").split(",")}
    assert "hx-request" in vary


def test_fleet_shows_operations_in_progress_as_polling_chips(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    running = OperationFactory(snapshot_name="chip-running")
    OperationFactory(snapshot_name="chip-done", state=OperationState.SUCCEEDED)

    response = viewer_client.get("/")

    body = response.content.decode()
    assert f'id="operation-chip-{running.pk}"' in body
    assert f'hx-get="/operations/{running.pk}/?variant=chip"' in body
    assert "chip-done" not in body
    assert "chip-running" in fleet_rows(response)[WEB]


def test_fleet_table_shows_an_action_at_once(
    seeded_simulator: RunningSimulator, admin_client: Client
) -> None:
    assert "2 of 5" in fleet_rows(admin_client.get("/"))[WEB]

    admin_client.post(f"/servers/{WEB}/snapshots/", {"name": "fresh-one"})
    after_create = fleet_rows(admin_client.get("/"))[WEB]
    admin_client.post(f"/snapshots/{OLDER}/delete/")
    after_delete = fleet_rows(admin_client.get("/"))[WEB]

    assert "3 of 5" in after_create
    assert "fresh-one" in after_create  # the chip of the create in progress
    assert "2 of 5" in after_delete
