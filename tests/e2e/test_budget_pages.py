"""In Chromium: the first page after log-in fills in as the provider's lists arrive, and the
Admins' provider page draws the last hour."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from provider_sim import controls

pytestmark = pytest.mark.e2e


def test_the_fleet_fills_in_as_the_lists_arrive(open_tab, viewer, settings, shoot) -> None:
    settings.VPS_SIM_PAGE_SIZE = 2  # 6 servers and their snapshots: 10 pages
    controls.add_fault(method="GET", latency_ms=400)
    tab = open_tab(viewer)

    response = tab.page.goto("/")

    assert response is not None
    assert response.status == 200
    loading = tab.page.locator("#fleet-loading")
    expect(loading).to_contain_text(re.compile(r"Reading servers from the provider… \d+ of ~\d+"))
    shoot(tab.page, "fleet-reading")
    tab.set_marker()
    expect(tab.page.locator("#fleet-table tbody tr")).to_have_count(6, timeout=30_000)
    expect(loading).to_have_count(0)
    assert tab.has_marker()  # filled in without a reload
    expect(tab.page.locator("#fleet-table")).to_contain_text("web-server-01")
    shoot(tab.page, "fleet-read")
    assert tab.errors == []


def test_the_provider_page_draws_the_last_hour(open_tab, admin_user, settings, shoot) -> None:
    settings.VPS_API_RATE_LIMIT = 120
    tab = open_tab(admin_user)
    tab.page.goto("/")  # some calls to draw
    expect(tab.page.locator("#fleet-table")).to_contain_text("web-server-01")

    tab.page.get_by_role("link", name="Provider").click()

    expect(tab.page.get_by_role("heading", name="Provider", level=1)).to_be_visible()
    expect(tab.page.locator("#budget-used")).to_contain_text("left")
    expect(tab.page.locator("svg rect.chart-calls")).to_have_count(60)
    shoot(tab.page, "provider")
    assert tab.errors == []
