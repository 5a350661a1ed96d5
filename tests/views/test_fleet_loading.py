"""A first page that never hangs: the lists are read a page at a time and shown as they
arrive; a server page reads only its own server's lists."""

from __future__ import annotations

import time

import pytest

from provider_sim import controls
from snapshots_ui import fleet_cache
from tests.views.helpers import WEB, fleet_rows, htmx_headers, page_text, provider_calls


def wait_for_complete_lists(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fleet_cache.fleet_pages():
            return
        time.sleep(0.1)
    raise AssertionError("the lists were not read to the end")


@pytest.fixture
def small_pages(seeded_simulator, settings):  # type: ignore[no-untyped-def]
    """The demo's 6 servers and their snapshots over many pages of 2."""
    settings.VPS_SIM_PAGE_SIZE = 2
    return seeded_simulator


def test_the_first_page_shows_what_has_arrived_and_keeps_reading(viewer_client, small_pages):
    controls.add_fault(method="GET", latency_ms=150)  # each page takes a while

    first = viewer_client.get("/")

    text = page_text(first)
    assert first.status_code == 200
    assert "Reading servers from the provider… 2 of ~" in text
    assert 'hx-trigger="every 1s"' in text  # the table asks again by itself
    assert len(fleet_rows(first)) <= 2  # the first page of servers, no more
    wait_for_complete_lists()
    done = viewer_client.get("/", headers=htmx_headers("fleet-table"))
    assert len(fleet_rows(done)) == 6
    assert "Reading servers" not in page_text(done)
    assert 'hx-trigger="every 1s"' not in page_text(done)


def test_a_server_page_before_the_fleet_is_read_asks_for_that_server_only(
    viewer_client, small_pages
) -> None:
    page = viewer_client.get(f"/servers/{WEB}/")

    assert page.status_code == 200
    assert "pre-migration-snapshot" in page_text(page)
    assert provider_calls("GET /api/v1/servers/{id}/") == 1
    assert provider_calls("GET /api/v1/snapshots/") == 1  # with server_id
    time.sleep(0.5)
    assert provider_calls("GET /api/v1/servers/") == 0  # the fleet's lists were not read
    assert provider_calls() == 2


def test_an_unknown_server_is_a_404_after_asking_the_provider_once(
    viewer_client, small_pages
) -> None:
    response = viewer_client.get("/servers/99999/")

    assert response.status_code == 404
    assert "No server with id 99999 is known to the provider." in page_text(response)
