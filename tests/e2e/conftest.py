"""Browser tests: Debian's Chromium driven through Playwright's sync API.

The dashboard is served by pytest-django's ``live_server`` (a thread of this process, on the
test database), the provider simulator runs in another thread, and operations are followed by
the real Celery worker of ``celery_worker_process``. Everything shares the database, so every
test here is transactional.

Where ``/usr/bin/chromium`` is missing, every test in this folder is skipped with the reason,
before any fixture starts (no worker, no live server). In CI (``CI`` set, as ``.ci/run`` does)
a skipped browser test fails instead: a CI machine must run them all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.test import Client

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
FAVICON = "/static/img/favicon.svg"


def _why_skipped() -> str | None:
    if not CHROMIUM.exists():
        return f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's tests up front when there is no browser to drive."""
    reason = _why_skipped()
    if reason is None:
        return
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=reason))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """In CI a browser test that was skipped, for whatever reason, is a failure."""
    report: pytest.TestReport = yield
    if report.skipped and _in_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"a browser test may not be skipped in CI (CI is set): {reason}"
    return report


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole folder, closed after its last test.

    Playwright's sync API keeps an event loop running in the main thread, which makes Django
    refuse database access ("SynchronousOnlyOperation") from the test code; the tests are
    plain synchronous code, so that check is switched off while the browser is open.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    """Hashing each test user's password with the production hasher costs most of a second;
    logging in through the login page works the same with a quick one."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def dashboard(live_server, seeded_simulator) -> str:  # type: ignore[no-untyped-def]
    """The dashboard's base URL, with the provider simulator and its demo data behind it."""
    return live_server.url


# Chromium reports CSP violations on the console too; this makes them impossible to miss.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + event.blockedURI);
});
"""


@dataclass
class Tab:
    """A page plus everything it said on the console and every request it made."""

    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def set_marker(self) -> None:
        """Mark the loaded document; ``has_marker`` is false after any reload or navigation."""
        self.page.evaluate("window.__marker = 1")

    def has_marker(self) -> bool:
        return bool(self.page.evaluate("window.__marker === 1"))


def _is_expected_status_document(message: ConsoleMessage, page: Page) -> bool:
    """Chromium logs "Failed to load resource" for a page answered with 4xx on purpose (the
    403 page, a form sent back with its errors as 400). Those are the page itself, not a
    broken asset, script or style; anything else counts as an error."""
    location = message.location.get("url", "")
    return (
        message.text.startswith("Failed to load resource: the server responded with a status of 4")
        and location.split("#")[0] == page.url.split("#")[0]
    )


@pytest.fixture
def open_tab(browser: Browser, dashboard: str) -> Iterator[Callable[..., Tab]]:
    """Open a tab in a fresh browser context (its own cookies), optionally logged in."""
    contexts: list[BrowserContext] = []

    def open_(user=None, *, viewport: dict[str, int] | None = None) -> Tab:  # type: ignore[no-untyped-def]
        context = browser.new_context(base_url=dashboard, viewport=viewport or DESKTOP)
        context.set_default_timeout(10_000)
        context.add_init_script(_REPORT_CSP_VIOLATIONS)
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": dashboard}]
            )
        page = context.new_page()
        tab = Tab(page=page)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not _is_expected_status_document(message, page):
                tab.errors.append(f"{page.url}: {message.text}")

        def on_request(request: Request) -> None:
            # Chromium fetches the tab's icon on its own once the page has loaded.
            if not request.url.endswith(FAVICON):
                tab.requests.append(f"{request.method} {request.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: tab.errors.append(f"{page.url}: {error}"))
        page.on("request", on_request)
        return tab

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def shoot() -> Callable[[Page, str], Path]:
    """Save a full-page screenshot as ``test-artifacts/screenshots/<name>.png``."""

    def shoot_(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot_


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """Poll a condition in the test process (the database, the cache) until it holds."""

    def wait_until_(condition: Callable[[], object], *, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.1)

    return wait_until_
