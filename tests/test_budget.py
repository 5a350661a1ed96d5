"""The provider budget: one moving window in Redis for every process, a share kept for
people, a 429 that pauses everyone, and background work stretched to fit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from provider_sim import controls
from snapshots_ui import provider
from snapshots_ui.provider import budget

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def small_budget(settings):  # type: ignore[no-untyped-def]
    """8 requests a minute, 2 of them kept for people; nobody waits for a slot."""
    settings.VPS_API_RATE_LIMIT = 8
    settings.VPS_API_FOREGROUND_SHARE = 0.25
    settings.VPS_API_FOREGROUND_MAX_WAIT = 0
    settings.VPS_API_BACKGROUND_MAX_WAIT = 0
    return settings


def takes(count: int) -> int:
    """How many of ``count`` slots the current class gets."""
    got = 0
    for _ in range(count):
        try:
            budget.acquire()
        except budget.BudgetWait:
            continue
        got += 1
    return got


def test_no_window_holds_more_calls_than_the_budget(small_budget) -> None:
    with budget.foreground():
        assert takes(10) == 8

    with budget.foreground(), pytest.raises(budget.BudgetWait) as held:
        budget.acquire()
    assert 0 < held.value.retry_after <= 60
    assert "8 requests a minute" in held.value.message
    assert budget.usage().calls == 8


def test_background_work_leaves_the_reserved_share_to_people(small_budget) -> None:
    assert takes(10) == 6  # background: the budget less the reserve

    with budget.foreground():
        assert takes(3) == 2  # the reserve is still there for a person
    assert budget.usage().background_calls == 6


def test_a_429_pauses_every_class(small_budget) -> None:
    budget.pause_for(30)

    with budget.foreground(), pytest.raises(budget.BudgetWait, match="asked the dashboard to"):
        budget.acquire()
    with pytest.raises(budget.BudgetWait):
        budget.acquire()
    assert 25 < budget.paused_for() <= 30
    assert budget.usage().calls == 0


COUNT_SLOTS = """
import django, sys
django.setup()
from snapshots_ui.provider import budget
got = 0
for _ in range(int(sys.argv[1])):
    try:
        budget.acquire()
        got += 1
    except budget.BudgetWait:
        pass
print(got)
"""


def test_processes_share_one_budget() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "REDIS_URL": django_settings.CELERY_BROKER_URL,
        "CACHE_REDIS_URL": django_settings.CACHES["default"]["LOCATION"],
        "VPS_API_RATE_LIMIT": "12",
        "VPS_API_FOREGROUND_SHARE": "0",
        "VPS_API_BACKGROUND_MAX_WAIT": "0",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", COUNT_SLOTS, "10"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    got = [int(process.communicate(timeout=120)[0].strip()) for process in processes]

    assert sum(got) == 12  # 20 asked for by two processes, 12 had
    assert all(0 < n <= 10 for n in got)


# --- The provider's own 429 --------------------------------------------------------------------


def test_the_providers_429_pauses_every_call_for_its_retry_after(
    seeded_simulator, settings
) -> None:
    settings.VPS_SIM_RATE_LIMIT = 2
    settings.VPS_API_BACKGROUND_MAX_WAIT = 0
    client = provider.get_client()
    client.list_servers()
    client.list_servers()

    with pytest.raises(provider.ProviderUnavailable) as throttled:
        client.list_servers()
    calls = controls.call_counts()["calls"]
    with pytest.raises(budget.BudgetWait, match="asked the dashboard to slow down"):
        client.list_servers()

    assert throttled.value.status_code == 429
    assert 0 < throttled.value.retry_after <= 60
    assert budget.paused_for() == pytest.approx(throttled.value.retry_after, abs=2)
    assert controls.call_counts()["calls"] == calls  # the paused call never left


def test_pages_say_the_provider_asked_to_slow_down(viewer_client, seeded_simulator) -> None:
    budget.pause_for(20)

    page = viewer_client.get("/activity/").content.decode()

    assert "The provider asked the dashboard to slow down; next check in" in page


# --- Background work stretched to the budget ------------------------------------------------------


def test_polls_and_refreshes_stretch_to_what_the_budget_allows(settings) -> None:
    settings.VPS_API_RATE_LIMIT = 120
    settings.VPS_API_FOREGROUND_SHARE = 0.25
    settings.VPS_POLL_SECONDS = 1

    assert budget.poll_period(1) == 1  # one server with work: as often as configured
    assert budget.poll_period(63) == pytest.approx(60)  # 63 calls a cycle, 63 a minute
    budget.note_poll_load(0)
    assert budget.refresh_period(600) == pytest.approx(800)  # 600 pages at 45 a minute
    budget.note_poll_load(60)
    assert budget.refresh_period(600) > 800  # polls come first
