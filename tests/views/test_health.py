"""The health endpoints: the dashboard's own (database, cache, worker) and the provider's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from provider_sim import controls
from provider_sim.server import RunningSimulator
from snapshots_ui import health


@pytest.mark.django_db
def test_health_reports_database_cache_and_a_missing_worker(client: Client) -> None:
    response = client.get("/health/")

    assert response.status_code == 200  # the pages work without the worker
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "worker": "stale"},
        "worker_heartbeat_age_seconds": None,
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_health_reports_a_worker_that_beat_recently(client: Client, settings) -> None:
    health.worker_heartbeat_touch()

    body = client.get("/health/").json()

    assert body["checks"]["worker"] == "ok"
    assert 0 <= body["worker_heartbeat_age_seconds"] < settings.WORKER_HEARTBEAT_MAX_AGE


@pytest.mark.django_db
def test_health_reports_a_worker_whose_heartbeat_is_too_old(client: Client, settings) -> None:
    health.worker_heartbeat_touch()
    settings.WORKER_HEARTBEAT_MAX_AGE = 0

    body = client.get("/health/").json()

    assert body["checks"]["worker"] == "stale"
    assert body["worker_heartbeat_age_seconds"] is not None


def test_provider_health_when_it_answers(
    seeded_simulator: RunningSimulator, client: Client
) -> None:
    response = client.get("/health/provider/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert isinstance(body["latency_ms"], int)
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("break_it", "status"),
    [
        (lambda: controls.add_fault(path_contains="/api/v1/", status=503), "unavailable"),
        (lambda: controls.set_token("other"), "unauthorised"),
    ],
    ids=["down", "token"],
)
def test_provider_health_when_it_does_not_answer(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    break_it: Callable[[], object],
    status: str,
) -> None:
    break_it()

    anonymous = client.get("/health/provider/")
    client.force_login(viewer)
    logged_in = client.get("/health/provider/")

    assert anonymous.status_code == logged_in.status_code == 503
    assert anonymous.json() == {"status": status}  # the provider's words only for the team
    assert logged_in.json()["status"] == status
    assert logged_in.json()["message"]


@pytest.mark.django_db
def test_health_answers_the_container_check_whatever_the_host(client: Client, settings) -> None:
    settings.ALLOWED_HOSTS = ["snapshots.example.com"]

    probe = client.get("/health/", HTTP_HOST="127.0.0.1:8000")
    page = client.get("/login/", HTTP_HOST="127.0.0.1:8000")
    post = client.post("/health/", HTTP_HOST="127.0.0.1:8000")

    assert probe.status_code == 200
    assert probe.json()["status"] == "ok"
    assert "no-cache" in probe["Cache-Control"]
    assert page.status_code == 400  # every other path still refuses the host
    assert post.status_code == 400
