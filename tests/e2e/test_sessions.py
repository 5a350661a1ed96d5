"""A session left open ends by itself, in Chromium: the page's own status polls do not keep it
alive, and the person lands on the log-in page that says why."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from playwright.sync_api import expect

from snapshots_ui.accounts import SESSION_ACTIVITY_KEY
from tests.factories import OperationFactory

pytestmark = pytest.mark.e2e

WEB_01 = 12345


def test_an_idle_tab_is_signed_out_and_told_why(open_tab, operator, shoot) -> None:
    OperationFactory(server_id=WEB_01, server_name="web-server-01", snapshot_name="nightly")
    tab = open_tab(operator)
    tab.page.goto(f"/servers/{WEB_01}/")
    expect(tab.page.locator("#active-operations li")).to_have_count(1)  # a row that polls
    session_key = next(
        c["value"] for c in tab.page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME
    )
    activity_at_load = SessionStore(session_key=session_key)[SESSION_ACTIVITY_KEY]
    for _poll in range(2):
        with tab.page.expect_response(lambda response: "/operations/" in response.url):
            pass
    store = SessionStore(session_key=session_key)
    assert store[SESSION_ACTIVITY_KEY] == activity_at_load  # the polls were not activity

    # Nobody has clicked for longer than the idle limit.
    store[SESSION_ACTIVITY_KEY] = timezone.now().timestamp() - settings.SESSION_IDLE_SECONDS - 1
    store.save()

    tab.page.wait_for_url("**/login/?signed_out=idle*", timeout=10_000)
    notice = tab.page.locator("#signed-out")
    expect(notice).to_have_text("You were signed out after 30 minutes without activity.")
    assert "next=%2Fservers%2F12345%2F" in tab.page.url
    shoot(tab.page, "signed-out-idle")
    requests_after = len(tab.requests)
    tab.page.wait_for_timeout(3 * settings.VPS_STATUS_REFRESH_SECONDS * 1000)
    assert len(tab.requests) == requests_after  # the old page's polling stopped with it
    assert tab.errors == []
