"""Page loads while the provider is down or rejects the token, and what they cost it."""

from __future__ import annotations

from django.test import Client

from provider_sim import controls
from provider_sim.seed import DEMO_SERVERS
from provider_sim.server import RunningSimulator
from snapshots_ui import fleet_cache
from tests.views.helpers import (
    NEWEST,
    OLDER,
    PROVIDER_DOWN,
    TOKEN_REJECTED,
    WEB,
    fleet_rows,
    page_text,
    provider_calls,
    snapshot_row_ids,
)


def test_pages_render_last_known_data_when_the_provider_is_down(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    assert viewer_client.get("/").status_code == 200  # fills the cache
    controls.add_fault(path_contains="/api/v1/", status=503)
    fleet_cache.fleet_invalidate()

    fleet = viewer_client.get("/")
    server = viewer_client.get(f"/servers/{WEB}/")

    assert fleet.status_code == server.status_code == 200
    for response in (fleet, server):
        text = page_text(response)
        assert PROVIDER_DOWN in text
        assert "Showing what it said" in text
    assert len(fleet_rows(fleet)) == len(DEMO_SERVERS)
    assert snapshot_row_ids(server) == [NEWEST, OLDER]


def test_fleet_without_any_data_and_the_provider_down_says_so(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    controls.add_fault(path_contains="/api/v1/", status=503)

    response = viewer_client.get("/")

    text = page_text(response)
    assert response.status_code == 200
    assert PROVIDER_DOWN in text
    assert "No data has been received from it yet." in text
    assert "The server list could not be loaded from the provider yet." in text


def test_server_page_without_any_data_and_the_provider_down_blames_the_provider(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    controls.add_fault(path_contains="/api/v1/", status=503)

    response = viewer_client.get(f"/servers/{WEB}/")

    assert response.status_code == 503  # not a 404: nothing says the server does not exist
    assert PROVIDER_DOWN in page_text(response)


def test_a_rejected_token_shows_its_own_banner(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    assert viewer_client.get("/").status_code == 200
    controls.set_token("other")
    fleet_cache.fleet_invalidate()

    response = viewer_client.get("/")

    text = page_text(response)
    assert response.status_code == 200
    assert TOKEN_REJECTED in text
    assert "until an administrator sets a valid VPS_API_TOKEN" in text
    assert PROVIDER_DOWN not in text
    assert len(fleet_rows(response)) == len(DEMO_SERVERS)


def test_a_rejected_token_before_any_data_still_renders(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    controls.set_token("other")

    response = viewer_client.get("/")

    assert response.status_code == 200
    assert TOKEN_REJECTED in page_text(response)
    assert "No data has been received from it yet." in page_text(response)


def test_the_banner_goes_once_the_provider_answers_again(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    controls.add_fault(path_contains="/api/v1/", status=503)
    assert PROVIDER_DOWN in page_text(viewer_client.get("/"))
    controls.clear_faults()
    fleet_cache.fleet_invalidate()

    response = viewer_client.get("/")

    assert PROVIDER_DOWN not in page_text(response)
    assert len(fleet_rows(response)) == len(DEMO_SERVERS)


def test_many_page_views_cost_one_provider_refresh(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    viewer_client.get("/")
    calls = provider_calls()

    for _ in range(5):
        viewer_client.get("/")
        viewer_client.get(f"/servers/{WEB}/")

    assert calls > 0
    assert provider_calls() == calls
