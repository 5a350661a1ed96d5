"""The Prometheus endpoint (who may read it, what it says) and the Admins' provider page."""

from __future__ import annotations

import pytest
from django.test import Client

from snapshots_ui import provider
from snapshots_ui.provider import budget
from tests.factories import OperationFactory


@pytest.fixture
def scraper_network(settings):  # type: ignore[no-untyped-def]
    settings.METRICS_ALLOW_IPS = ["10.20.0.0/16", "192.0.2.7"]
    settings.METRICS_TOKEN = "scrape-me-5c1f"
    return settings


@pytest.mark.parametrize(
    ("address", "authorization", "status"),
    [
        ("10.20.3.4", "", 200),  # inside an allowed network
        ("192.0.2.7", "", 200),  # an allowed address
        ("192.0.2.8", "", 403),
        ("198.51.100.1", "Bearer scrape-me-5c1f", 200),
        ("198.51.100.1", "Bearer scrape-me-5c1e", 403),
        ("198.51.100.1", "scrape-me-5c1f", 403),
    ],
)
def test_metrics_open_to_allowed_addresses_and_the_token_only(
    db, scraper_network, address: str, authorization: str, status: int
) -> None:
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = Client(REMOTE_ADDR=address).get("/metrics", **headers)

    assert response.status_code == status
    if status == 403:
        assert b"dashboard_" not in response.content


def test_metrics_count_calls_latency_budget_and_operations(seeded_simulator, scraper_network):
    client = provider.get_client()
    client.list_servers()
    with pytest.raises(provider.ProviderNotFound):
        client.get_server(server_id=999)
    OperationFactory(kind="restore", server_id=12345)
    OperationFactory(kind="create", server_id=12346)

    body = Client(REMOTE_ADDR="10.20.0.1").get("/metrics").content.decode()

    assert 'dashboard_provider_calls_total{endpoint="GET /servers/",status="200"} 1.0' in body
    assert 'dashboard_provider_calls_total{endpoint="GET /servers/{id}/",status="404"} 1.0' in body
    assert "dashboard_provider_latency_seconds_count " in body
    assert "dashboard_provider_budget_per_minute " in body
    assert "dashboard_provider_budget_used 3.0" in body  # a 404 looks in the snapshot list too
    assert 'dashboard_operations_in_progress{kind="restore"} 1.0' in body
    assert 'dashboard_operations_in_progress{kind="create"} 1.0' in body
    assert "dashboard_poll_lag_seconds " in body
    assert "dashboard_celery_queue_length " in body
    assert "dashboard_provider_lists_age_seconds " in body


def test_the_provider_page_shows_the_budget_and_the_last_hour(admin_client, seeded_simulator):
    provider.get_client().list_servers()
    budget.pause_for(15)

    page = admin_client.get("/provider/").content.decode()

    assert "requests a minute" in page
    assert 'id="budget-used"' in page
    assert "<svg" in page
    assert page.count('class="chart-calls"') == 60  # one bar a minute
    assert "the provider answered 429" in page
