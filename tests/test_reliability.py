"""No duplicate action and no 500 under concurrent submissions and hostile input, through the
real stack: the dashboard served over HTTP, the simulator over HTTP, the real database."""

from __future__ import annotations

import html
import threading
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
import requests

from provider_sim import controls
from snapshots_ui.models import AuditEvent, Operation, OperationKind

WEB = 12345
CONCURRENT_SUBMISSIONS = 10


def logged_in_session(live_server, client, user) -> requests.Session:  # type: ignore[no-untyped-def]
    """A browser-like session for ``user`` against the live server, with its CSRF cookie."""
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    session.get(f"{live_server.url}/servers/{WEB}/", timeout=30)  # sets the csrftoken cookie
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    session.headers["Referer"] = live_server.url + "/"
    return session


def all_at_once(action: Callable[[], requests.Response], count: int) -> list[int]:
    """Run ``action`` in ``count`` threads released together; their status codes."""
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        response = action()
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.parametrize(
    ("path", "form", "endpoint", "kind"),
    [
        pytest.param(
            f"/servers/{WEB}/snapshots/",
            {"name": "double-click", "description": ""},
            "POST /api/v1/snapshots/",
            OperationKind.CREATE,
            id="identical creates",
        ),
        pytest.param(
            "/snapshots/801/restore/",
            {"confirm_name": "web-server-01", "safety": "skip"},
            "POST /api/v1/snapshots/{id}/restore/",
            OperationKind.RESTORE,
            id="restores of one server",
        ),
    ],
)
def test_concurrent_submissions_start_exactly_one(
    seeded_simulator, live_server, client, operator, monkeypatch, path, form, endpoint, kind
) -> None:
    monkeypatch.setattr("snapshots_ui.polling.server_poll_queue", lambda server_id: None)
    session = logged_in_session(live_server, client, operator)
    controls.reset_call_counts()

    statuses = all_at_once(
        lambda: session.post(
            f"{live_server.url}{path}", data=form, allow_redirects=False, timeout=60
        ),
        CONCURRENT_SUBMISSIONS,
    )

    assert controls.call_counts()["by_endpoint"].get(endpoint, 0) == 1
    assert Counter(statuses) == {302: 1, 400: CONCURRENT_SUBMISSIONS - 1}
    assert Operation.objects.filter(kind=kind).count() == 1


# --- Hostile and malformed input: a clear answer, zero provider calls, nothing written ------

LONG = "a" * 65
HOSTILE_NAMES = [
    "",
    " ",
    "with space",
    LONG,
    "x" * 10_000,
    "../../etc/passwd",
    "..\\windows",
    "name/with/slash",
    "<script>alert(1)</script>",
    '"quoted"',
    "'; DROP TABLE snapshots_ui_operation; --",
    "1 OR 1=1",
    "ѕnapshot",  # Cyrillic ѕ
    "snаpshot",  # Cyrillic а
    "ｆｕｌｌｗｉｄｔｈ",
    "tab\there",
    "new\nline",
    "nul\x00byte",
    "emoji-🙂",
    "=cmd|' /C calc'!A0",
    "%2e%2e%2f",
    "name;rm -rf /",
]
# (method, path, form data, expected status)
HOSTILE_REQUESTS = [
    ("POST", "/servers/999999999/snapshots/", {"name": "fine"}, 404),
    ("POST", "/servers/-1/snapshots/", {"name": "fine"}, 404),
    ("POST", f"/servers/{'9' * 30}/snapshots/", {"name": "fine"}, 404),
    ("GET", f"/servers/{WEB}/snapshots/", {}, 405),
    ("DELETE", f"/servers/{WEB}/", {}, 405),
    ("POST", "/snapshots/999999/restore/", {"confirm_name": "web-server-01"}, 404),
    ("POST", "/snapshots/801/restore/", {"confirm_name": "WEB-SERVER-01", "safety": "skip"}, 400),
    ("POST", "/snapshots/801/restore/", {"confirm_name": " web-server-01x", "safety": "skip"}, 400),
    ("POST", "/snapshots/801/restore/", {}, 400),
    ("GET", "/servers/abc/", {}, 404),
    ("GET", "/servers/12345/../../admin/", {}, 404),
    ("GET", "/activity/?server=abc&kind=<script>&state=1%20OR%201=1&page=-5", {}, 200),
    ("GET", "/activity/?page=99999999999999999999", {}, 200),
    ("GET", "/?q=" + "x" * 5000, {}, 200),
    ("GET", "/operations/999999999/", {}, 404),
]


def _snapshot_of_state() -> tuple[int, int, dict[str, int]]:
    return Operation.objects.count(), AuditEvent.objects.count(), controls.call_counts()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_snapshot_names_are_refused_before_the_provider(
    seeded_simulator, client, operator, name: str
) -> None:
    client.force_login(operator)
    client.get(f"/servers/{WEB}/")  # warms the cache: the provider's list is read once here
    controls.reset_call_counts()
    before = _snapshot_of_state()

    response = client.post(f"/servers/{WEB}/snapshots/", {"name": name, "description": "x"})

    assert response.status_code == 400
    body = response.content.decode()
    assert 'class="error"' in body  # the reason, next to the field
    assert controls.call_counts()["calls"] == 0
    assert _snapshot_of_state() == before
    if name == name.strip() and name.isprintable():
        assert html.escape(name) in body  # what they typed is kept, escaped


@pytest.mark.parametrize(("method", "path", "data", "expected"), HOSTILE_REQUESTS)
def test_hostile_requests_get_a_clear_4xx_and_change_nothing(
    seeded_simulator, client, operator, method: str, path: str, data: dict, expected: int
) -> None:
    client.force_login(operator)
    client.get("/")
    controls.reset_call_counts()
    writes_before = (Operation.objects.count(), AuditEvent.objects.count())

    response = client.generic(
        method, path, data=urlencode(data), content_type="application/x-www-form-urlencoded",
    )  # fmt: skip

    assert response.status_code == expected
    assert controls.call_counts()["by_endpoint"].get("POST /api/v1/snapshots/", 0) == 0
    assert not any(
        key.startswith(("POST", "DELETE")) for key in controls.call_counts()["by_endpoint"]
    )
    assert (Operation.objects.count(), AuditEvent.objects.count()) == writes_before


def test_post_without_csrf_token_is_refused(seeded_simulator, operator) -> None:
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    controls.reset_call_counts()

    response = strict.post(f"/servers/{WEB}/snapshots/", {"name": "forged"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert controls.call_counts()["calls"] == 0
    assert not Operation.objects.exists()
