"""The API's pages in Chromium: API tokens on the account page (made, shown once, used,
revoked) and the interactive API docs under the strict CSP, with screenshots."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from snapshots_ui.models import ApiToken

pytestmark = pytest.mark.e2e


def test_a_token_is_made_shown_once_used_and_revoked(open_tab, operator, shoot) -> None:
    tab = open_tab(operator)
    page = tab.page
    page.goto("/")
    page.locator(".userbox").get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    expect(page.get_by_label("Delete snapshots")).to_have_count(0)  # beyond an Operator's role
    shoot(page, "api-tokens-empty")

    page.get_by_label("Name").fill("deploy-ci")
    page.get_by_label("Restore servers").check()
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#token-secret")
    expect(secret).to_have_text(re.compile(r"^sdt_[a-z0-9]{12}_"))
    raw = secret.inner_text()
    assert ApiToken.objects.get(name="deploy-ci").last_used_at is None
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "api-tokens-created")

    assert page.request.get("/api/v1/activity/", headers={"Authorization": f"Bearer {raw}"}).ok
    page.goto("/account/tokens/")
    expect(page.locator("#token-secret")).to_have_count(0)
    row = page.get_by_role("row").filter(has_text="deploy-ci")
    expect(row).to_contain_text("read")
    expect(row).to_contain_text("restore")
    expect(row).to_contain_text("from 127.0.0.1")
    shoot(page, "api-tokens-list")

    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status").filter(has_text="Token “deploy-ci” revoked.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="deploy-ci")).to_contain_text("revoked")
    assert (
        page.request.get("/api/v1/activity/", headers={"Authorization": f"Bearer {raw}"}).status
        == 401
    )
    assert tab.errors == []


def test_the_api_docs_work_under_the_strict_csp(open_tab, shoot) -> None:
    tab = open_tab()
    page = tab.page

    response = page.goto("/api/docs/")

    assert response is not None
    policy = response.headers.get("content-security-policy") or ""
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    expect(page.locator(".swagger-ui .title")).to_contain_text("Snapshot dashboard API")
    expect(page.get_by_text("/api/v1/servers/{server_id}/snapshots/").first).to_be_visible()
    shoot(page, "api-docs")
    page.get_by_text("/api/v1/snapshots/{snapshot_id}/restore/").first.click()
    expect(page.get_by_text("safety_snapshot").first).to_be_visible()
    shoot(page, "api-docs-restore")
    assert tab.errors == []
    assert all("cdn" not in request for request in tab.requests)
