"""The dashboard in Arabic, in Chromium: switched in the top bar, right to left, nothing
overflowing the viewport at desktop and phone width, and a screenshot of every main page
(test-artifacts/screenshots/ar-*.png) to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

WEB_01 = 12345
NEWEST = 801
AT_LIMIT = 12351
PHONE = {"width": 390, "height": 844}
PAGES = [
    ("fleet", "/"),
    ("server", f"/servers/{WEB_01}/"),
    ("server-at-limit", f"/servers/{AT_LIMIT}/"),
    ("restore", f"/snapshots/{NEWEST}/restore/"),
    ("delete", f"/snapshots/{NEWEST}/delete/"),
    ("schedules", "/schedules/"),
    ("schedule-new", "/schedules/new/"),
    ("activity", "/activity/"),
    ("provider", "/provider/"),
    ("help", "/help/snapshots/"),
    ("not-found", "/no-such-page/"),
]


def _switch_to_arabic(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="العربيّة").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")


def _overflow(page: Page) -> int:
    """How many pixels the page is wider than the viewport (0: nothing sticks out)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def _look_at_every_page(page: Page, shoot, suffix: str) -> None:  # type: ignore[no-untyped-def]
    """Every page right to left, and a screenshot of each; then which of them overflow."""
    overflowing = {}
    for name, path in PAGES:
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("h1").first).to_be_visible()
        shoot(page, f"ar-{name}{suffix}")
        if _overflow(page) > 0:
            overflowing[name] = _overflow(page)
    assert overflowing == {}


def test_arabic_pages_right_to_left_at_desktop_width(open_tab, admin_user, shoot) -> None:
    tab = open_tab(admin_user)
    _switch_to_arabic(tab.page)

    # The top bar mirrors: the brand at the start (right), the switch back at the end (left).
    brand = tab.page.locator(".brand").bounding_box()
    switch = tab.page.locator(".langswitch").bounding_box()
    assert brand
    assert switch
    assert brand["x"] > switch["x"]
    expect(tab.page.get_by_role("button", name="English")).to_be_visible()
    _look_at_every_page(tab.page, shoot, "")
    assert tab.errors == []


def test_arabic_pages_right_to_left_at_phone_width(open_tab, admin_user, shoot) -> None:
    tab = open_tab(admin_user, viewport=PHONE)
    _switch_to_arabic(tab.page)

    _look_at_every_page(tab.page, shoot, "-phone")
    assert tab.errors == []


def test_the_login_and_refusal_pages_in_arabic(open_tab, viewer, shoot) -> None:
    anonymous = open_tab()
    anonymous.page.goto("/login/")
    anonymous.page.get_by_role("button", name="العربيّة").click()
    expect(anonymous.page.locator("html")).to_have_attribute("dir", "rtl")
    expect(anonymous.page.get_by_role("heading", name="تسجيل الدخول")).to_be_visible()
    shoot(anonymous.page, "ar-login")

    tab = open_tab(viewer)
    _switch_to_arabic(tab.page)
    tab.page.goto(f"/snapshots/{NEWEST}/restore/")
    expect(tab.page.get_by_role("heading", name="غير مسموح لك بهذا")).to_be_visible()
    shoot(tab.page, "ar-forbidden")
    assert anonymous.errors == []
    assert tab.errors == []
