"""The pages, through Django's test client, against the provider simulator over real HTTP.

Polls that the services queue on commit are recorded instead of sent to Celery (no worker runs
here); everything else — views, services, the provider client, the simulator — is real.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import formats, timezone

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from provider_sim.seed import DEMO_SERVERS, DEMO_SNAPSHOTS
from provider_sim.server import RunningSimulator
from snapshots_ui import fleet_cache, health
from snapshots_ui.models import AuditEvent, Operation, OperationKind
from snapshots_ui.statuses import OperationState
from tests.factories import PASSWORD, OperationFactory

# The demo data (provider_sim/seed.py).
WEB = 12345  # web-server-01: running, completed snapshots 801 (newest) and 798
WEB_NAME = "web-server-01"
NEWEST = 801
OLDER = 798
REPLICA = 12351  # db-replica: 5 of 5 snapshots
PRIMARY = 12350  # db-primary: stopped; snapshot 800 failed
FAILED_SNAPSHOT = 800
EMPTY = 12360  # staging-app: no snapshots at all

CREATE_CALL = "POST /api/v1/snapshots/"
RESTORE_CALL = "POST /api/v1/snapshots/{id}/restore/"
DELETE_CALL = "DELETE /api/v1/snapshots/{id}/"

FRIENDLY_403 = "You are not allowed to do that"
PROVIDER_DOWN = "The provider is not answering right now."
TOKEN_REJECTED = "The provider rejected the dashboard's API token."


# --- Helpers and local fixtures ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def _polls_recorded(queued_polls: list[int]) -> None:
    """No worker runs here: polls queued on commit are recorded instead."""


def page_text(response: HttpResponse) -> str:
    """The body with HTML entities decoded, for comparing with sentences the user reads."""
    return html.unescape(response.content.decode())


def provider_calls(endpoint: str | None = None) -> int:
    """Requests the simulator received: all of them, or those of one endpoint."""
    counts = controls.call_counts()
    return counts["calls"] if endpoint is None else counts["by_endpoint"].get(endpoint, 0)


def htmx_headers(target: str | None = None) -> dict[str, str]:
    headers = {"HX-Request": "true"}
    if target:
        headers["HX-Target"] = target
    return headers


def fleet_rows(response: HttpResponse) -> dict[int, str]:
    """The fleet table's rows as text, by server id."""
    rows: dict[int, str] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", response.content.decode(), flags=re.DOTALL):
        if match := re.search(r'href="/servers/(\d+)/"', row):
            rows[int(match[1])] = html.unescape(re.sub(r"<[^>]+>", " ", row))
    return rows


def snapshot_row_ids(response: HttpResponse) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="snapshot-(\d+)">', response.content.decode())]


def field_block(response: HttpResponse, field_id: str) -> str:
    """The rendered form field (label, input, help, errors) whose input has ``field_id``."""
    match = re.search(
        rf'<div class="field[^"]*">\s*<label for="{field_id}">.*?</div>',
        response.content.decode(),
        flags=re.DOTALL,
    )
    assert match, f"no field {field_id} on the page"
    return match[0]


def audit_actions(operation: Operation) -> list[str]:
    return list(operation.audit_events.order_by("id").values_list("action", flat=True))


def sim_snapshot_count(server_id: int) -> int:
    return SimSnapshot.objects.filter(server_id=server_id).count()


def demo_snapshot_counts() -> Counter[int]:
    return Counter(server_id for _, server_id, *_rest in DEMO_SNAPSHOTS)


def csv_rows(response: StreamingHttpResponse) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return list(csv.reader(io.StringIO(body)))


# --- Authorisation matrix ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one role gets for one request: a status, and for a redirect where it leads."""

    status: int
    # For redirects; "{path}" stands for the requested path, URL-quoted.
    location: str | None = None


OK = Answer(200)
INVALID = Answer(400)
DENIED = Answer(403)  # always the dashboard's friendly 403 page
NO_METHOD = Answer(405)
LOGIN = Answer(302, "/login/?next={path}")
ADMIN_LOGIN = Answer(302, "/admin/login/?next={path}")

ROLES = ("anonymous", "viewer", "operator", "admin_user")
# One answer per role, in the order of ROLES.
Row = tuple[Answer, Answer, Answer, Answer]


def everyone(answer: Answer) -> Row:
    return (answer, answer, answer, answer)


def to(location: str) -> Answer:
    return Answer(302, location)


@dataclass(frozen=True)
class Route:
    """One URL of the dashboard with the answers each role gets for GET and POST.

    ``key`` names the URL pattern (``namespace:name``, or the route of an unnamed one;
    ``admin`` for all of Django admin). ``post=None``: POST is not part of the matrix.
    """

    key: str
    path: str
    get: Row
    post: Row | None
    data: dict[str, str] = field(default_factory=dict)


HOME = to("/")
TO_SERVER = to(f"/servers/{WEB}/")
FAVICON = Answer(301, "/static/img/favicon.svg")
STAFF_ONLY: Row = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, OK)
ANY_ROLE: Row = (LOGIN, OK, OK, OK)

# Each row: url key, path, GET answers, POST answers (anonymous, viewer, operator, admin).
# fmt: off
ROUTES: list[Route] = [
    # Login, logout and password reset: open to everyone.
    Route("login", "/login/", (OK, HOME, HOME, HOME), (OK, HOME, HOME, HOME)),
    Route("logout", "/logout/", everyone(NO_METHOD), everyone(to("/login/"))),
    # The second login step: users without an authenticator have nothing to verify and go
    # on to the fleet. Its set-up: any logged-in user (a wrong code is a 400).
    Route("two_factor_verify", "/login/verify/", (LOGIN, HOME, HOME, HOME),
          (LOGIN, HOME, HOME, HOME), data={"code": "000000"}),
    Route("two_factor_setup", "/account/two-factor/", ANY_ROLE,
          (LOGIN, INVALID, INVALID, INVALID), data={"code": "000000"}),
    Route("password_reset", "/password-reset/", everyone(OK), everyone(OK)),
    Route("password_reset_done", "/password-reset/done/", everyone(OK), everyone(NO_METHOD)),
    Route("password_reset_confirm", "/reset/MQ/not-a-token/", everyone(OK), everyone(OK)),
    Route("password_reset_complete", "/reset/done/", everyone(OK), everyone(NO_METHOD)),
    # Infrastructure: open to everyone.
    Route("health", "/health/", everyone(OK), everyone(NO_METHOD)),
    Route("health_provider", "/health/provider/", everyone(OK), everyone(NO_METHOD)),
    Route("favicon.ico", "/favicon.ico", everyone(FAVICON), None),
    # Django admin: staff only, with its own login page.
    Route("admin", "/admin/", STAFF_ONLY, None),
    Route("admin", "/admin/auth/user/", STAFF_ONLY, None),
    # The dashboard: reading needs a role; acting needs the role that grants it.
    Route("snapshots_ui:fleet", "/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:server", f"/servers/{WEB}/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:snapshot_create", f"/servers/{WEB}/snapshots/",
          everyone(NO_METHOD), (LOGIN, DENIED, TO_SERVER, TO_SERVER),
          data={"name": "matrix-check"}),
    Route("snapshots_ui:snapshot_restore", f"/snapshots/{NEWEST}/restore/",
          (LOGIN, DENIED, OK, OK), (LOGIN, DENIED, TO_SERVER, TO_SERVER),
          data={"confirm_name": WEB_NAME}),
    Route("snapshots_ui:snapshot_delete", f"/snapshots/{OLDER}/delete/",
          (LOGIN, DENIED, DENIED, OK), (LOGIN, DENIED, DENIED, TO_SERVER)),
    Route("snapshots_ui:operation_status", "/operations/{operation}/", ANY_ROLE,
          everyone(NO_METHOD)),
    Route("snapshots_ui:operation_resolve", "/operations/{operation}/resolve/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, to(f"/servers/{EMPTY}/")),
          data={"action": "failed", "note": "Checked at the provider's console."}),
    Route("snapshots_ui:activity", "/activity/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:activity_csv", "/activity.csv", ANY_ROLE, everyone(NO_METHOD)),
]
# fmt: on


def _served_url_keys(
    patterns: list[URLPattern | URLResolver], namespace: str = "", prefix: str = ""
) -> set[str]:
    """Every URL pattern of the URLconf as a matrix key (all of Django admin is ``admin``)."""
    keys: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                keys.add("admin")
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            keys |= _served_url_keys(pattern.url_patterns, inner, prefix + str(pattern.pattern))
        elif pattern.name:
            keys.add(f"{namespace}{pattern.name}")
        else:
            keys.add(prefix + str(pattern.pattern))
    return keys


def test_every_served_url_has_an_entry_in_the_authorisation_matrix() -> None:
    served = _served_url_keys(get_resolver("dashboard.urls").url_patterns)

    assert served == {route.key for route in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
def test_matrix_paths_resolve_to_their_url(route: Route) -> None:
    match = resolve(route.path.format(operation=1))

    if match.namespace == "admin":
        key = "admin"
    else:
        key = match.view_name if match.url_name else match.route
    assert key == route.key


def _matrix_cases() -> list[object]:
    cases: list[object] = []
    for route in ROUTES:
        for method, row in (("GET", route.get), ("POST", route.post)):
            if row is None:
                continue
            for role, answer in zip(ROLES, row, strict=True):
                cases.append(
                    pytest.param(route, method, role, answer, id=f"{method} {route.path} {role}")
                )
    return cases


MATRIX = _matrix_cases()


@pytest.mark.parametrize(("route", "method", "role", "expected"), MATRIX)
def test_authorisation_matrix(
    seeded_simulator: RunningSimulator,
    client: Client,
    request: pytest.FixtureRequest,
    route: Route,
    method: str,
    role: str,
    expected: Answer,
) -> None:
    path = route.path
    if "{operation}" in path:  # on a server the other routes do not act on
        path = path.format(
            operation=OperationFactory(server_id=EMPTY, server_name="staging-app").pk
        )
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))

    response = client.get(path) if method == "GET" else client.post(path, route.data)

    assert response.status_code == expected.status
    if expected.location is not None:
        assert response["Location"] == expected.location.format(path=quote(path))
    if expected is DENIED:
        assert FRIENDLY_403 in page_text(response)
        assert "ask an administrator to change your role" in page_text(response)
    elif response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        assert FRIENDLY_403 not in page_text(response)
    if expected in (LOGIN, DENIED, NO_METHOD):
        assert provider_calls() == 0, "a refused request must not reach the provider"


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("viewer", [], ["Take snapshot", "Restore…", "Delete…"]),
        ("operator", ["Take snapshot", "Restore…"], ["Delete…"]),
        ("admin_user", ["Take snapshot", "Restore…", "Delete…"], []),
    ],
)
def test_action_buttons_are_shown_only_to_roles_allowed_to_use_them(
    seeded_simulator: RunningSimulator,
    client: Client,
    request: pytest.FixtureRequest,
    role: str,
    shown: list[str],
    hidden: list[str],
) -> None:
    client.force_login(request.getfixturevalue(role))

    response = client.get(f"/servers/{WEB}/")

    text = page_text(response)
    body = response.content.decode()
    links = {
        "Take snapshot": f'action="/servers/{WEB}/snapshots/"',
        "Restore…": f'href="/snapshots/{NEWEST}/restore/"',
        "Delete…": f'href="/snapshots/{NEWEST}/delete/"',
    }
    for label in shown:
        assert label in text
        assert links[label] in body
    for label in hidden:
        assert label not in text
        assert links[label] not in body


@pytest.mark.parametrize(("role", "sees_admin_link"), [("operator", False), ("admin_user", True)])
def test_admin_link_only_for_staff(
    seeded_simulator: RunningSimulator,
    client: Client,
    request: pytest.FixtureRequest,
    role: str,
    sees_admin_link: bool,
) -> None:
    client.force_login(request.getfixturevalue(role))

    response = client.get("/")

    assert ('href="/admin/"' in response.content.decode()) is sees_admin_link


def test_a_logged_out_htmx_request_is_sent_to_the_login_page_as_a_whole_page(
    db: None, client: Client
) -> None:
    response = client.get("/operations/1/", headers=htmx_headers())

    assert response.status_code != 302
    assert response["HX-Redirect"] == "/login/"


def test_a_logged_out_browser_request_gets_an_ordinary_redirect(db: None, client: Client) -> None:
    response = client.get("/operations/1/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/operations/1/"
    assert "HX-Redirect" not in response


def test_login_with_the_right_password_goes_to_the_page_asked_for(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    response = client.post(
        "/login/", {"username": viewer.username, "password": PASSWORD, "next": f"/servers/{WEB}/"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/servers/{WEB}/"
    assert client.get(f"/servers/{WEB}/").status_code == 200


def test_login_with_a_wrong_password_says_so(db: None, client: Client, viewer: User) -> None:
    response = client.post("/login/", {"username": viewer.username, "password": "wrong"})

    assert response.status_code == 200
    assert "enter a correct username and password" in page_text(response)


# --- Fleet page -----------------------------------------------------------------------------------


def test_fleet_lists_every_server_with_its_snapshot_usage(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)

    response = client.get("/")

    assert response.status_code == 200
    rows = fleet_rows(response)
    assert set(rows) == {server_id for server_id, *_ in DEMO_SERVERS}
    counts = demo_snapshot_counts()
    for server_id, name, *_ in DEMO_SERVERS:
        assert name in rows[server_id]
        assert f"{counts[server_id]} of 5" in rows[server_id]
    assert "0 of 5" in rows[EMPTY]  # a server without snapshots is listed too
    assert "5 of 5" in rows[REPLICA]
    assert f"{len(DEMO_SERVERS)} servers at the provider." in page_text(response)


def test_fleet_shows_server_states(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)

    rows = fleet_rows(client.get("/"))

    assert "Running" in rows[WEB]
    assert "Stopped" in rows[PRIMARY]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("web", {WEB, 12346}),
        ("WEB-SERVER-01", {WEB}),
        ("  db-  ", {PRIMARY, REPLICA}),
    ],
)
def test_fleet_filter_by_name(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    query: str,
    expected: set[int],
) -> None:
    client.force_login(viewer)

    response = client.get("/", {"q": query})

    assert set(fleet_rows(response)) == expected
    assert f"{len(DEMO_SERVERS)} servers at the provider." in page_text(response)


def test_fleet_filter_without_match_says_so_and_escapes_the_query(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)

    response = client.get("/", {"q": "<b>nothing</b>"})

    assert fleet_rows(response) == {}
    assert "No server name contains “<b>nothing</b>”." in page_text(response)
    assert "<b>nothing</b>" not in response.content.decode()


def test_fleet_htmx_filter_returns_only_the_table(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)

    response = client.get("/", {"q": "replica"}, headers=htmx_headers("fleet-table"))

    body = response.content.decode().strip()
    assert response.status_code == 200
    assert body.startswith('<div id="fleet-table"')
    assert "<html" not in body
    assert 'id="fleet-q"' not in body  # the filter form is not part of the partial
    assert set(fleet_rows(response)) == {REPLICA}


def test_fleet_htmx_request_for_another_target_gets_the_whole_page(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    """A history restore sends HX-Request without a target and needs the whole page."""
    client.force_login(viewer)

    response = client.get("/", headers={**htmx_headers(), "HX-History-Restore-Request": "true"})

    assert "<html" in response.content.decode()
    assert len(fleet_rows(response)) == len(DEMO_SERVERS)


def test_fleet_answers_that_vary_on_htmx_headers_say_so(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)

    response = client.get("/", headers=htmx_headers("fleet-table"))

    vary = {part.strip().lower() for part in response.get("Vary", "").split(",")}
    assert "hx-request" in vary


def test_fleet_shows_operations_in_progress_as_polling_chips(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    running = OperationFactory(snapshot_name="chip-running")
    OperationFactory(snapshot_name="chip-done", state=OperationState.SUCCEEDED)
    client.force_login(viewer)

    response = client.get("/")

    body = response.content.decode()
    assert f'id="operation-chip-{running.pk}"' in body
    assert f'hx-get="/operations/{running.pk}/?variant=chip"' in body
    assert "chip-done" not in body
    assert "chip-running" in fleet_rows(response)[WEB]


def test_fleet_table_shows_an_action_at_once(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    client.force_login(admin_user)
    assert "2 of 5" in fleet_rows(client.get("/"))[WEB]

    client.post(f"/servers/{WEB}/snapshots/", {"name": "fresh-one"})
    after_create = fleet_rows(client.get("/"))[WEB]
    client.post(f"/snapshots/{OLDER}/delete/")
    after_delete = fleet_rows(client.get("/"))[WEB]

    assert "3 of 5" in after_create
    assert "fresh-one" in after_create  # the chip of the create in progress
    assert "2 of 5" in after_delete


# --- Server page ----------------------------------------------------------------------------------


def test_server_page_lists_snapshots_newest_first(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)

    response = client.get(f"/servers/{REPLICA}/")

    newest_first = sorted(
        SimSnapshot.objects.filter(server_id=REPLICA), key=lambda s: s.created_at, reverse=True
    )
    assert snapshot_row_ids(response) == [s.pk for s in newest_first]
    assert len(newest_first) == 5
    assert "5 of 5 snapshots used" in page_text(response)


def test_server_page_shows_snapshot_details(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)

    response = client.get(f"/servers/{WEB}/")

    text = page_text(response)
    assert snapshot_row_ids(response) == [NEWEST, OLDER]
    assert "pre-migration-snapshot" in text
    assert "Before major migration" in text
    assert "5.0 GB" in text  # 5120 MB
    assert "2 of 5 snapshots used" in text


def test_server_without_snapshots_says_so(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    response = client.get(f"/servers/{EMPTY}/")

    assert response.status_code == 200
    assert "This server has no snapshots yet." in page_text(response)
    assert "Take snapshot" in page_text(response)


def test_unknown_server_is_a_404_page_with_a_sentence(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)

    response = client.get("/servers/99999/")

    assert response.status_code == 404
    assert "No server with id 99999 is known to the provider." in page_text(response)
    assert "Back to the servers" in page_text(response)


def test_running_server_warns_before_a_snapshot(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    running = page_text(client.get(f"/servers/{WEB}/"))
    stopped = page_text(client.get(f"/servers/{PRIMARY}/"))

    warning = "A snapshot of a running server may capture an inconsistent file system"
    assert warning in running
    assert warning not in stopped


def test_provider_text_is_escaped_on_the_server_page(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    SimSnapshot.objects.filter(pk=NEWEST).update(description='<img src=x onerror="alert(1)">')
    client.force_login(viewer)

    response = client.get(f"/servers/{WEB}/")

    assert "<img src=x" not in response.content.decode()
    assert '<img src=x onerror="alert(1)">' in page_text(response)


def test_restore_button_follows_the_status_meaning_in_statuses(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    SimSnapshot.objects.filter(pk=NEWEST).update(status="available")
    client.force_login(operator)

    response = client.get(f"/servers/{WEB}/")

    assert f'href="/snapshots/{NEWEST}/restore/"' in response.content.decode()


def test_server_page_history_lists_what_was_done(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    OperationFactory(
        snapshot_name="history-entry",
        state=OperationState.FAILED,
        error="The provider refused: Quota exceeded.",
        finished_at=timezone.now(),
    )
    OperationFactory(server_id=REPLICA, server_name="db-replica", snapshot_name="elsewhere")
    client.force_login(viewer)

    text = page_text(client.get(f"/servers/{WEB}/"))

    assert "history-entry" in text
    assert "The provider refused: Quota exceeded." in text
    assert "elsewhere" not in text


# --- Activity page and CSV export -----------------------------------------------------------------


@pytest.fixture
def activity_operations(db: None) -> dict[str, Operation]:
    return {
        "create": OperationFactory(
            snapshot_name="act-create", state=OperationState.SUCCEEDED, finished_at=timezone.now()
        ),
        "restore": OperationFactory(
            kind=OperationKind.RESTORE, server_id=REPLICA, server_name="db-replica",
            snapshot_name="act-restore",
        ),
        "delete": OperationFactory(
            kind=OperationKind.DELETE, server_id=PRIMARY, server_name="db-primary",
            snapshot_name="act-delete", state=OperationState.FAILED, requested_by_name="ada",
            finished_at=timezone.now(),
        ),
    }  # fmt: skip


ACTIVITY_NAMES = {"act-create", "act-restore", "act-delete"}


def shown_activity(response: HttpResponse) -> set[str]:
    return {name for name in ACTIVITY_NAMES if name in response.content.decode()}


def test_activity_lists_every_operation(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    activity_operations: dict[str, Operation],
) -> None:
    client.force_login(viewer)

    response = client.get("/activity/")

    assert response.status_code == 200
    assert shown_activity(response) == ACTIVITY_NAMES
    assert "Restore server" in page_text(response)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "restore"}, {"act-restore"}),
        ({"state": "failed"}, {"act-delete"}),
        ({"server": str(WEB)}, {"act-create"}),
        ({"q": "ada"}, {"act-delete"}),
        ({"q": "DB-"}, {"act-restore", "act-delete"}),
        ({"q": "nobody-by-that-name"}, set()),
    ],
)
def test_activity_filters(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    activity_operations: dict[str, Operation],
    query: dict[str, str],
    expected: set[str],
) -> None:
    client.force_login(viewer)

    response = client.get("/activity/", query)

    assert response.status_code == 200
    assert shown_activity(response) == expected
    if not expected:
        assert "No activity matches." in page_text(response)


def test_activity_htmx_filter_returns_only_the_table(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    activity_operations: dict[str, Operation],
) -> None:
    client.force_login(viewer)

    response = client.get("/activity/", {"kind": "create"}, headers=htmx_headers("activity-table"))

    body = response.content.decode().strip()
    assert body.startswith('<div id="activity-table"')
    assert "<html" not in body
    assert shown_activity(response) == {"act-create"}


@pytest.mark.parametrize(
    ("query", "messages"),
    [
        (
            {"server": "abc", "kind": "bogus"},
            ["Enter a whole number.", "Select a valid choice. bogus is not one of the available"],
        ),
        ({"state": "exploded"}, ["Select a valid choice. exploded is not one of the available"]),
        ({"server": "9" * 30}, ["Ensure this value is less than or equal to"]),
        ({"server": "-1", "page": "zzz"}, ["Ensure this value is greater than or equal to 1."]),
    ],
)
def test_activity_with_invalid_filters_explains_instead_of_failing(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    activity_operations: dict[str, Operation],
    query: dict[str, str],
    messages: list[str],
) -> None:
    client.force_login(viewer)

    response = client.get("/activity/", query)

    assert response.status_code == 200
    text = page_text(response)
    for message in messages:
        assert message in text
    assert "Some filters were not understood and are ignored" in text
    assert shown_activity(response) == ACTIVITY_NAMES


def test_activity_keeps_valid_filters_when_another_is_invalid(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    activity_operations: dict[str, Operation],
) -> None:
    client.force_login(viewer)

    response = client.get("/activity/", {"kind": "restore", "server": "abc"})

    assert "Enter a whole number." in page_text(response)
    assert shown_activity(response) == {"act-restore"}


def test_activity_pages_keep_the_filters(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    OperationFactory.create_batch(51, kind=OperationKind.DELETE, state=OperationState.SUCCEEDED)
    client.force_login(viewer)

    first = client.get("/activity/", {"kind": "delete"})
    second = client.get("/activity/", {"kind": "delete", "page": "2"})

    assert "Page 1 of 2" in page_text(first)
    assert 'href="?kind=delete&amp;page=2"' in first.content.decode()
    assert first.content.decode().count("<td>Delete snapshot</td>") == 50
    assert "Page 2 of 2" in page_text(second)
    assert 'href="?kind=delete&amp;page=1"' in second.content.decode()
    assert second.content.decode().count("<td>Delete snapshot</td>") == 1


def test_activity_csv_has_a_header_and_a_row_per_operation(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    activity_operations: dict[str, Operation],
) -> None:
    client.force_login(viewer)

    response = client.get("/activity.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="snapshot-activity.csv"'
    header, *rows = csv_rows(response)
    assert header == [
        "started_at", "finished_at", "duration_seconds", "who", "ip", "action", "server_id",
        "server", "snapshot_id", "snapshot", "outcome", "provider_message", "error",
    ]  # fmt: skip
    assert len(rows) == Operation.objects.count() == 3
    by_snapshot = {row[9]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_snapshot) == ACTIVITY_NAMES
    assert by_snapshot["act-delete"]["action"] == "delete"
    assert by_snapshot["act-delete"]["outcome"] == "failed"
    assert by_snapshot["act-delete"]["who"] == "ada"
    assert by_snapshot["act-restore"]["server_id"] == str(REPLICA)
    assert by_snapshot["act-restore"]["finished_at"] == ""


def test_activity_csv_applies_the_filters(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    activity_operations: dict[str, Operation],
) -> None:
    client.force_login(viewer)

    _header, *rows = csv_rows(client.get("/activity.csv", {"state": "failed"}))

    assert [row[9] for row in rows] == ["act-delete"]


def test_activity_export_link_carries_the_filters(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)

    response = client.get("/activity/", {"kind": "restore", "page": "1"})

    assert 'href="/activity.csv?kind=restore"' in response.content.decode()


def test_activity_csv_neutralises_spreadsheet_formulas(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    OperationFactory(
        snapshot_name='=HYPERLINK("http://example.invalid","x")',
        requested_by_name="@SUM(A1)",
        server_name="+cmd",
        provider_message="-2+3",
        error="\t=1",
        state=OperationState.FAILED,
        finished_at=timezone.now(),
    )
    client.force_login(viewer)

    header, row = csv_rows(client.get("/activity.csv"))

    exported = dict(zip(header, row, strict=True))
    assert exported["snapshot"] == '\'=HYPERLINK("http://example.invalid","x")'
    assert exported["who"] == "'@SUM(A1)"
    assert exported["server"] == "'+cmd"
    assert exported["provider_message"] == "'-2+3"
    assert exported["error"] == "'\t=1"


# --- Health ---------------------------------------------------------------------------------------


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


# --- Create ---------------------------------------------------------------------------------------


def test_operator_creates_a_snapshot(
    seeded_simulator: RunningSimulator, client: Client, operator: User, queued_polls: list[int]
) -> None:
    client.force_login(operator)

    response = client.post(
        f"/servers/{WEB}/snapshots/",
        {"name": "before-php-upgrade", "description": "before the PHP upgrade"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/servers/{WEB}/"
    operation = Operation.objects.get()
    assert operation.kind == OperationKind.CREATE
    assert operation.state == OperationState.IN_PROGRESS
    assert operation.requested_by == operator
    assert operation.requested_from_ip == "127.0.0.1"
    assert operation.snapshot_id == SimSnapshot.objects.get(name="before-php-upgrade").pk
    assert audit_actions(operation) == ["snapshot.create.requested", "snapshot.create.started"]
    assert AuditEvent.objects.filter(actor=operator).count() == 2
    assert provider_calls(CREATE_CALL) == 1
    assert queued_polls == [WEB]


def test_after_a_create_the_server_page_shows_it_in_progress(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    response = client.post(f"/servers/{WEB}/snapshots/", {"name": "watch-me"}, follow=True)

    operation = Operation.objects.get()
    text = page_text(response)
    assert response.status_code == 200
    assert f"Snapshot “watch-me” of {WEB_NAME} started." in text
    assert "This may take 3-10 minutes" in text
    assert f'id="operation-{operation.pk}"' in response.content.decode()
    assert 'hx-trigger="every 1.5s"' in response.content.decode()
    assert "3 of 5 snapshots used" in text  # the list was refreshed after the create


def test_create_keeps_surrounding_spaces_out_of_the_name(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    response = client.post(f"/servers/{WEB}/snapshots/", {"name": "  trimmed  "})

    assert response.status_code == 302
    assert SimSnapshot.objects.filter(name="trimmed").exists()


INVALID_NAMES = [
    pytest.param("", "This field is required.", id="empty"),
    pytest.param("with spaces", "no spaces", id="spaces"),
    pytest.param("a" * 65, "Use at most 64 characters (this name has 65).", id="65-chars"),
    pytest.param("../etc", "Use only letters A-Z, digits, dashes", id="path"),
    pytest.param("<script>alert(1)</script>", "Use only letters A-Z, digits", id="html"),
    pytest.param("bаckup", "Use only letters A-Z, digits", id="cyrillic-a"),
]


@pytest.mark.parametrize(("name", "message"), INVALID_NAMES)
def test_invalid_names_are_refused_next_to_the_field(
    seeded_simulator: RunningSimulator,
    client: Client,
    operator: User,
    queued_polls: list[int],
    name: str,
    message: str,
) -> None:
    client.force_login(operator)

    response = client.post(f"/servers/{WEB}/snapshots/", {"name": name})

    assert response.status_code == 400
    block = field_block(response, "id_name")
    assert 'class="error"' in block
    assert message in html.unescape(block)
    if name:
        assert f'value="{html.escape(name)}"' in block  # what was typed stays in the form
    assert "<script>alert(1)" not in response.content.decode()
    assert provider_calls(CREATE_CALL) == 0
    assert not Operation.objects.exists()
    assert queued_polls == []


def test_a_long_description_is_refused_next_to_its_field(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    response = client.post(
        f"/servers/{WEB}/snapshots/", {"name": "fine-name", "description": "x" * 256}
    )

    assert response.status_code == 400
    assert "at most 255 characters" in html.unescape(field_block(response, "id_description"))
    assert 'value="fine-name"' in field_block(response, "id_name")
    assert provider_calls(CREATE_CALL) == 0


def test_name_input_limits_typing_to_the_provider_limit(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    block = field_block(client.get(f"/servers/{WEB}/"), "id_name")

    assert 'maxlength="64"' in block


def test_name_input_suggests_a_valid_name(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    block = field_block(client.get(f"/servers/{WEB}/"), "id_name")

    suggested = re.search(r'value="([^"]*)"', block)
    assert suggested
    assert re.fullmatch(rf"{WEB_NAME}-\d{{8}}-\d{{4}}", suggested[1])


def test_the_same_create_twice_is_refused_while_the_first_runs(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)
    first = client.post(f"/servers/{WEB}/snapshots/", {"name": "double-click"})

    second = client.post(f"/servers/{WEB}/snapshots/", {"name": "double-click"})

    assert first.status_code == 302
    assert second.status_code == 400
    assert f"A snapshot named “double-click” is already being created on {WEB_NAME}." in page_text(
        second
    )
    assert provider_calls(CREATE_CALL) == 1
    assert Operation.objects.count() == 1


def test_create_at_the_snapshot_limit_is_refused_without_asking_the_provider(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    response = client.post(f"/servers/{REPLICA}/snapshots/", {"name": "one-too-many"})

    assert response.status_code == 400
    text = page_text(response)
    assert "db-replica already has 5 snapshots, the provider's limit." in text
    assert "Delete an old one first." in text
    assert "(only an Admin can delete them)" in text
    assert provider_calls(CREATE_CALL) == 0
    assert not Operation.objects.exists()
    assert sim_snapshot_count(REPLICA) == 5


def test_the_create_form_is_disabled_at_the_limit(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    client.force_login(admin_user)

    response = client.get(f"/servers/{REPLICA}/")

    assert "This server has 5 snapshots, the most the provider allows." in page_text(response)
    assert '<fieldset disabled aria-describedby="limit-reason">' in response.content.decode()
    assert "(only an Admin can delete them)" not in page_text(response)


def test_provider_refusal_is_shown_in_its_own_words(
    seeded_simulator: RunningSimulator, client: Client, operator: User, queued_polls: list[int]
) -> None:
    controls.add_fault(method="POST", status=400, error_shape="error", message="Quota exceeded.")
    client.force_login(operator)

    response = client.post(f"/servers/{WEB}/snapshots/", {"name": "over-quota"})

    assert response.status_code == 400
    assert "The provider refused: Quota exceeded." in page_text(response)
    assert 'value="over-quota"' in field_block(response, "id_name")
    operation = Operation.objects.get()
    assert operation.state == OperationState.FAILED
    assert operation.error == "Quota exceeded."
    assert audit_actions(operation) == ["snapshot.create.requested", "snapshot.create.refused"]
    assert provider_calls(CREATE_CALL) == 1
    assert queued_polls == []


def test_provider_503_on_create_leaves_the_operation_to_be_reconciled(
    seeded_simulator: RunningSimulator, client: Client, operator: User, queued_polls: list[int]
) -> None:
    controls.add_fault(method="POST", status=503)
    client.force_login(operator)

    response = client.post(f"/servers/{WEB}/snapshots/", {"name": "unknown-fate"}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain == [(f"/servers/{WEB}/", 302)]
    operation = Operation.objects.get()
    assert operation.state == OperationState.IN_PROGRESS
    assert operation.needs_reconcile
    assert operation.snapshot_id is None
    text = page_text(response)
    assert "The provider did not confirm snapshot “unknown-fate”" in text
    assert "It may have started it all the same" in text
    assert "will not send it twice" in text
    assert "The dashboard is checking whether it was received" in text  # the operation row
    assert 'class="toast toast-warning"' in response.content.decode()
    assert audit_actions(operation) == ["snapshot.create.requested", "snapshot.create.unconfirmed"]
    assert provider_calls(CREATE_CALL) == 1  # never retried
    assert queued_polls == [WEB]


def test_provider_rejecting_the_token_on_create_is_explained(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)
    client.get(f"/servers/{WEB}/")  # the fleet is cached while the token still works
    controls.set_token("other")

    response = client.post(f"/servers/{WEB}/snapshots/", {"name": "no-token"})

    assert response.status_code == 400
    text = page_text(response)
    assert "The provider rejected the dashboard's API token. Nothing was changed." in text
    assert Operation.objects.get().state == OperationState.FAILED


def test_create_is_refused_while_the_server_is_being_restored(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)
    client.post(f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME})

    page = client.get(f"/servers/{WEB}/")
    response = client.post(f"/servers/{WEB}/snapshots/", {"name": "during-restore"})

    assert "Take a snapshot once the restore has finished." in page_text(page)
    assert response.status_code == 400
    assert f"{WEB_NAME} is being restored; wait until the restore has finished." in page_text(
        response
    )
    assert provider_calls(CREATE_CALL) == 0


# --- Provider trouble on page loads --------------------------------------------------------------


def test_pages_render_last_known_data_when_the_provider_is_down(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)
    assert client.get("/").status_code == 200  # fills the cache
    controls.add_fault(path_contains="/api/v1/", status=503)
    fleet_cache.fleet_invalidate()

    fleet = client.get("/")
    server = client.get(f"/servers/{WEB}/")

    assert fleet.status_code == server.status_code == 200
    for response in (fleet, server):
        text = page_text(response)
        assert PROVIDER_DOWN in text
        assert "Showing what it said" in text
    assert len(fleet_rows(fleet)) == len(DEMO_SERVERS)
    assert snapshot_row_ids(server) == [NEWEST, OLDER]


def test_fleet_without_any_data_and_the_provider_down_says_so(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    controls.add_fault(path_contains="/api/v1/", status=503)
    client.force_login(viewer)

    response = client.get("/")

    text = page_text(response)
    assert response.status_code == 200
    assert PROVIDER_DOWN in text
    assert "No data has been received from it yet." in text
    assert "The server list could not be loaded from the provider yet." in text


def test_server_page_without_any_data_and_the_provider_down_blames_the_provider(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    controls.add_fault(path_contains="/api/v1/", status=503)
    client.force_login(viewer)

    response = client.get(f"/servers/{WEB}/")

    assert response.status_code != 404
    assert PROVIDER_DOWN in page_text(response)


def test_a_rejected_token_shows_its_own_banner(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)
    assert client.get("/").status_code == 200
    controls.set_token("other")
    fleet_cache.fleet_invalidate()

    response = client.get("/")

    text = page_text(response)
    assert response.status_code == 200
    assert TOKEN_REJECTED in text
    assert "until an administrator sets a valid VPS_API_TOKEN" in text
    assert PROVIDER_DOWN not in text
    assert len(fleet_rows(response)) == len(DEMO_SERVERS)


def test_a_rejected_token_before_any_data_still_renders(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    controls.set_token("other")
    client.force_login(viewer)

    response = client.get("/")

    assert response.status_code == 200
    assert TOKEN_REJECTED in page_text(response)
    assert "No data has been received from it yet." in page_text(response)


def test_the_banner_goes_once_the_provider_answers_again(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)
    controls.add_fault(path_contains="/api/v1/", status=503)
    assert PROVIDER_DOWN in page_text(client.get("/"))
    controls.clear_faults()
    fleet_cache.fleet_invalidate()

    response = client.get("/")

    assert PROVIDER_DOWN not in page_text(response)
    assert len(fleet_rows(response)) == len(DEMO_SERVERS)


def test_many_page_views_cost_one_provider_refresh(
    seeded_simulator: RunningSimulator, client: Client, viewer: User
) -> None:
    client.force_login(viewer)
    client.get("/")
    calls = provider_calls()

    for _ in range(5):
        client.get("/")
        client.get(f"/servers/{WEB}/")

    assert calls > 0
    assert provider_calls() == calls


# --- Restore --------------------------------------------------------------------------------------


def test_restore_confirmation_page_says_what_will_happen(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    snapshot = SimSnapshot.objects.get(pk=NEWEST)
    client.force_login(operator)

    response = client.get(f"/snapshots/{NEWEST}/restore/")

    text = page_text(response)
    taken = formats.date_format(timezone.localtime(snapshot.created_at), "DATETIME_FORMAT")
    assert response.status_code == 200
    assert f"Restore {WEB_NAME} from a snapshot" in text
    assert "pre-migration-snapshot" in text
    assert f"({taken} UTC)" in text
    assert f"All data on {WEB_NAME} written after {taken} UTC is lost." in re.sub(
        r"</?strong>", "", text
    )
    assert "cannot be undone" in text
    assert "5–15 minutes" in text
    assert "The server is stopped first" in text
    assert provider_calls(RESTORE_CALL) == 0


def test_restore_with_the_wrong_confirmation_is_refused(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    response = client.post(f"/snapshots/{NEWEST}/restore/", {"confirm_name": "web-server-1"})

    assert response.status_code == 400
    block = html.unescape(field_block(response, "id_confirm_name"))
    assert f"That is not the server's name. Type “{WEB_NAME}” exactly to confirm." in block
    assert 'value="web-server-1"' in block
    assert provider_calls(RESTORE_CALL) == 0
    assert not Operation.objects.exists()
    assert SimServer.objects.get(pk=WEB).status == "running"


def test_restore_with_the_right_confirmation_starts_it(
    seeded_simulator: RunningSimulator, client: Client, operator: User, queued_polls: list[int]
) -> None:
    client.force_login(operator)

    response = client.post(f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME})

    assert response.status_code == 302
    assert response["Location"] == f"/servers/{WEB}/"
    assert SimServer.objects.get(pk=WEB).status == "restoring"
    operation = Operation.objects.get()
    assert operation.kind == OperationKind.RESTORE
    assert operation.state == OperationState.IN_PROGRESS
    assert operation.snapshot_id == NEWEST
    assert not operation.needs_reconcile
    assert audit_actions(operation) == ["server.restore.requested", "server.restore.started"]
    assert provider_calls(RESTORE_CALL) == 1
    assert queued_polls == [WEB]

    page = client.get(response["Location"])
    text = page_text(page)
    assert f"Restore of {WEB_NAME} from “pre-migration-snapshot” started." in text
    assert "This may take 5-15 minutes." in text
    # While it runs, no other restore can be started from the page.
    assert f'href="/snapshots/{OLDER}/restore/"' not in page.content.decode()
    assert 'aria-disabled="true"' in page.content.decode()


def test_a_second_restore_while_one_runs_is_refused(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)
    client.post(f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME})

    page = client.get(f"/snapshots/{OLDER}/restore/")
    response = client.post(f"/snapshots/{OLDER}/restore/", {"confirm_name": WEB_NAME})

    assert "Another operation is running on this server." in page_text(page)
    assert response.status_code == 400
    assert f"Another operation is still running on {WEB_NAME}" in page_text(response)
    assert provider_calls(RESTORE_CALL) == 1
    assert Operation.objects.count() == 1


def test_restore_of_a_snapshot_that_is_not_completed_is_refused(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    page = client.get(f"/snapshots/{FAILED_SNAPSHOT}/restore/")
    response = client.post(f"/snapshots/{FAILED_SNAPSHOT}/restore/", {"confirm_name": "db-primary"})

    assert page.status_code == 200
    assert "This snapshot is not completed, so it cannot be restored yet." in page_text(page)
    assert "<fieldset disabled>" in page.content.decode()
    assert response.status_code == 400
    assert "Only a completed snapshot can be restored." in page_text(response)
    assert provider_calls(RESTORE_CALL) == 0
    assert not Operation.objects.exists()


def test_restore_of_a_snapshot_still_being_created_is_refused(
    seeded_simulator: RunningSimulator, client: Client, operator: User, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 600
    client.force_login(operator)
    client.post(f"/servers/{EMPTY}/snapshots/", {"name": "still-running"})
    snapshot_id = SimSnapshot.objects.get(name="still-running").pk

    response = client.post(f"/snapshots/{snapshot_id}/restore/", {"confirm_name": "staging-app"})

    assert response.status_code == 400
    assert "Only a completed snapshot can be restored." in page_text(response)
    assert provider_calls(RESTORE_CALL) == 0


def test_restore_of_an_unknown_snapshot_is_a_404_page(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)

    response = client.get("/snapshots/424242/restore/")

    assert response.status_code == 404
    assert "No snapshot with id 424242 is known to the provider." in page_text(response)


def test_provider_refusing_a_restore_is_shown_in_its_own_words(
    seeded_simulator: RunningSimulator, client: Client, operator: User
) -> None:
    client.force_login(operator)
    client.get(f"/snapshots/{NEWEST}/restore/")
    # Someone started a restore at the provider's console meanwhile.
    SimServer.objects.filter(pk=WEB).update(
        status="restoring", restore_due_at=timezone.now() + timedelta(hours=1)
    )

    response = client.post(f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME})

    assert response.status_code == 400
    assert "The provider refused: The server is already being restored." in page_text(response)
    assert Operation.objects.get().state == OperationState.FAILED


# --- Delete ---------------------------------------------------------------------------------------


def test_delete_confirmation_names_the_snapshot(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    name = SimSnapshot.objects.get(pk=OLDER).name
    client.force_login(admin_user)

    response = client.get(f"/snapshots/{OLDER}/delete/")

    text = page_text(response)
    assert response.status_code == 200
    assert f"Delete snapshot “{name}”?" in text
    assert f"The snapshot “{name}” of {WEB_NAME} will be deleted permanently." in text
    assert "It cannot be undone" in text
    assert provider_calls(DELETE_CALL) == 0
    assert SimSnapshot.objects.filter(pk=OLDER).exists()


def test_admin_deletes_a_snapshot(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User, queued_polls: list[int]
) -> None:
    name = SimSnapshot.objects.get(pk=OLDER).name
    client.force_login(admin_user)

    response = client.post(f"/snapshots/{OLDER}/delete/")

    assert response.status_code == 302
    assert response["Location"] == f"/servers/{WEB}/"
    assert not SimSnapshot.objects.filter(pk=OLDER).exists()
    operation = Operation.objects.get()
    assert operation.kind == OperationKind.DELETE
    assert operation.state == OperationState.SUCCEEDED
    assert operation.finished_at is not None
    assert operation.snapshot_name == name
    assert audit_actions(operation) == ["snapshot.delete.requested", "snapshot.delete.done"]
    assert provider_calls(DELETE_CALL) == 1
    assert queued_polls == []  # a delete is over when the provider answers

    page = client.get(response["Location"])
    assert f"Snapshot “{name}” of {WEB_NAME} deleted." in page_text(page)
    assert snapshot_row_ids(page) == [NEWEST]


def test_deleting_a_snapshot_the_provider_already_deleted_is_a_sentence(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    client.force_login(admin_user)
    client.get(f"/snapshots/{OLDER}/delete/")  # the dashboard still lists it
    SimSnapshot.objects.filter(pk=OLDER).delete()  # deleted in the provider's console

    response = client.post(f"/snapshots/{OLDER}/delete/", follow=True)

    assert response.status_code == 200
    assert f"of {WEB_NAME} had already been deleted." in page_text(response)
    operation = Operation.objects.get()
    assert operation.state == OperationState.SUCCEEDED
    assert provider_calls(DELETE_CALL) == 1


def test_deleting_a_snapshot_twice_is_a_404_page_with_a_sentence(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    client.force_login(admin_user)
    assert client.post(f"/snapshots/{OLDER}/delete/").status_code == 302

    response = client.post(f"/snapshots/{OLDER}/delete/")

    assert response.status_code == 404
    assert f"No snapshot with id {OLDER} is known to the provider." in page_text(response)
    assert provider_calls(DELETE_CALL) == 1


def test_deleting_a_snapshot_being_restored_from_is_refused(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    client.force_login(admin_user)
    client.post(f"/snapshots/{NEWEST}/restore/", {"confirm_name": WEB_NAME})

    response = client.post(f"/snapshots/{NEWEST}/delete/")

    assert response.status_code == 400
    assert (
        f"{WEB_NAME} is being restored from this snapshot; it cannot be deleted now."
        in page_text(response)
    )
    assert provider_calls(DELETE_CALL) == 0
    assert SimSnapshot.objects.filter(pk=NEWEST).exists()


def test_provider_refusing_a_delete_is_shown_in_its_own_words(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    controls.add_fault(method="DELETE", status=400, message="Snapshot is locked.")
    client.force_login(admin_user)

    response = client.post(f"/snapshots/{OLDER}/delete/")

    assert response.status_code == 400
    assert "The provider refused: Snapshot is locked." in page_text(response)
    assert Operation.objects.get().state == OperationState.FAILED
    assert SimSnapshot.objects.filter(pk=OLDER).exists()


# --- Live status of one operation -----------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "trigger"), [(1.5, "every 1.5s"), (2, "every 2s")])
def test_an_operation_in_progress_keeps_polling(
    db: None, client: Client, viewer: User, settings, seconds: float, trigger: str
) -> None:
    settings.VPS_STATUS_REFRESH_SECONDS = seconds
    operation = OperationFactory(snapshot_name="live-one")
    client.force_login(viewer)

    response = client.get(f"/operations/{operation.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith(f'<li id="operation-{operation.pk}"')
    assert f'hx-trigger="{trigger}"' in body
    assert f'hx-get="/operations/{operation.pk}/"' in body
    assert "live-one" in body
    assert "HX-Trigger" not in response


def test_a_stuck_operation_polls_slower_and_says_so(db: None, client: Client, viewer: User) -> None:
    operation = OperationFactory(state=OperationState.STUCK)
    client.force_login(viewer)

    response = client.get(f"/operations/{operation.pk}/")

    assert response.status_code == 200
    assert 'hx-trigger="every 10s"' in response.content.decode()
    assert "taking much longer than the provider's stated maximum" in page_text(response)
    assert "an Admin can close it here" in page_text(response)


@pytest.mark.parametrize(
    ("state", "level", "outcome"),
    [(OperationState.SUCCEEDED, "success", "is ready"), (OperationState.FAILED, "error", "failed")],
)
def test_a_finished_operation_stops_polling_and_announces_itself(
    db: None, client: Client, viewer: User, state: OperationState, level: str, outcome: str
) -> None:
    operation = OperationFactory(snapshot_name="done-one", state=state, finished_at=timezone.now())
    client.force_login(viewer)

    response = client.get(f"/operations/{operation.pk}/")

    assert response.status_code == 286
    assert "hx-trigger" not in response.content.decode()
    assert f'id="operation-{operation.pk}"' in response.content.decode()
    event = json.loads(response["HX-Trigger"])["operation-finished"]
    assert event == {
        "message": f"Snapshot “done-one” of {WEB_NAME} {outcome}.",
        "level": level,
        "id": operation.pk,
    }


def test_chip_variant(db: None, client: Client, viewer: User) -> None:
    running = OperationFactory(snapshot_name="chip-one")
    done = OperationFactory(state=OperationState.SUCCEEDED, finished_at=timezone.now())
    client.force_login(viewer)

    live = client.get(f"/operations/{running.pk}/", {"variant": "chip"})
    over = client.get(f"/operations/{done.pk}/", {"variant": "chip"})

    assert live.status_code == 200
    assert live.content.decode().strip().startswith(f'<span id="operation-chip-{running.pk}"')
    assert f'hx-get="/operations/{running.pk}/?variant=chip"' in live.content.decode()
    assert 'hx-trigger="every 1.5s"' in live.content.decode()
    assert "<li" not in live.content.decode()
    assert over.status_code == 286
    assert f'id="operation-chip-{done.pk}"' in over.content.decode()
    assert "hx-trigger" not in over.content.decode()


def test_unknown_operation_is_a_404(db: None, client: Client, viewer: User) -> None:
    client.force_login(viewer)

    assert client.get("/operations/987654/").status_code == 404


# --- Closing a stuck operation by hand ---------------------------------------------------------


@pytest.mark.parametrize(("role", "sees_form"), [("operator", False), ("admin_user", True)])
def test_only_admins_are_offered_to_close_a_stuck_operation(
    db: None, client: Client, request: pytest.FixtureRequest, role: str, sees_form: bool
) -> None:
    operation = OperationFactory(state=OperationState.STUCK)
    client.force_login(request.getfixturevalue(role))

    response = client.get(f"/operations/{operation.pk}/")

    body = response.content.decode()
    assert (f'action="/operations/{operation.pk}/resolve/"' in body) is sees_form
    assert ("Mark failed" in body) is sees_form


@pytest.mark.parametrize(
    ("action", "note", "state", "recorded"),
    [
        ("failed", "Provider support says the disk was full.", OperationState.FAILED, "error"),
        ("succeeded", "The snapshot is there.", OperationState.SUCCEEDED, "provider_message"),
    ],
)
def test_admin_closes_a_stuck_operation_and_the_decision_is_audited(
    seeded_simulator: RunningSimulator,
    client: Client,
    admin_user: User,
    action: str,
    note: str,
    state: OperationState,
    recorded: str,
) -> None:
    operation = OperationFactory(state=OperationState.STUCK)
    client.force_login(admin_user)

    response = client.post(
        f"/operations/{operation.pk}/resolve/", {"action": action, "note": note}, follow=True
    )

    assert response.redirect_chain == [(f"/servers/{WEB}/", 302)]
    assert "The operation was closed and the decision recorded." in page_text(response)
    operation.refresh_from_db()
    assert operation.state == state
    assert operation.finished_at is not None
    assert getattr(operation, recorded) == note
    event = operation.audit_events.get()
    assert (event.action, event.actor, event.detail) == (
        f"operation.resolved.{action}",
        admin_user,
        note,
    )


def test_closing_without_a_note_records_who_closed_it(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    operation = OperationFactory(state=OperationState.STUCK)
    client.force_login(admin_user)

    client.post(f"/operations/{operation.pk}/resolve/", {"action": "failed", "note": "  "})

    operation.refresh_from_db()
    assert operation.state == OperationState.FAILED
    assert operation.error == f"Closed by hand by {admin_user.username}."


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        (OperationState.SUCCEEDED, "failed", "This operation has already ended."),
        (OperationState.STUCK, "explode", "That action is not known; nothing was changed."),
        (OperationState.STUCK, "", "That action is not known; nothing was changed."),
    ],
)
def test_closing_is_refused_with_a_sentence(
    seeded_simulator: RunningSimulator,
    client: Client,
    admin_user: User,
    state: OperationState,
    action: str,
    message: str,
) -> None:
    operation = OperationFactory(state=state)
    client.force_login(admin_user)

    response = client.post(f"/operations/{operation.pk}/resolve/", {"action": action}, follow=True)

    assert response.status_code == 200
    assert message in page_text(response)
    operation.refresh_from_db()
    assert operation.state == state
    assert not operation.audit_events.exists()


def test_admin_asks_the_provider_again_about_a_stuck_operation(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    operation = OperationFactory(
        state=OperationState.STUCK,
        snapshot_id=OLDER,  # completed at the provider
        snapshot_name=SimSnapshot.objects.get(pk=OLDER).name,
    )
    client.force_login(admin_user)

    response = client.post(
        f"/operations/{operation.pk}/resolve/", {"action": "recheck"}, follow=True
    )

    assert "The provider was asked again about this operation." in page_text(response)
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    assert audit_actions(operation) == ["operation.recheck", "operation.succeeded"]
    assert provider_calls("GET /api/v1/snapshots/") >= 1


def test_asking_again_while_the_provider_is_down_is_a_sentence(
    seeded_simulator: RunningSimulator, client: Client, admin_user: User
) -> None:
    operation = OperationFactory(state=OperationState.STUCK)
    client.force_login(admin_user)
    client.get(f"/servers/{WEB}/")
    controls.add_fault(path_contains="/api/v1/", status=503)

    response = client.post(
        f"/operations/{operation.pk}/resolve/", {"action": "recheck"}, follow=True
    )

    assert response.status_code == 200
    assert "The provider could not be asked:" in page_text(response)
    operation.refresh_from_db()
    assert operation.state == OperationState.STUCK


# --- Query counts ---------------------------------------------------------------------------------


def _operations_everywhere(count: int) -> None:
    """``count`` more operations, spread over the demo servers and over running and ended."""
    states = [OperationState.IN_PROGRESS, OperationState.SUCCEEDED, OperationState.FAILED]
    for index in range(count):
        server_id, name, *_ = DEMO_SERVERS[index % len(DEMO_SERVERS)]
        state = states[index % len(states)]
        OperationFactory(
            server_id=server_id,
            server_name=name,
            state=state,
            finished_at=None if state == OperationState.IN_PROGRESS else timezone.now(),
        )


@pytest.mark.parametrize(
    ("path", "bound"), [("/", 10), (f"/servers/{WEB}/", 12), ("/activity/", 10)]
)
def test_page_queries_do_not_grow_with_operations(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
    path: str,
    bound: int,
) -> None:
    client.force_login(viewer)
    _operations_everywhere(3)
    fleet_cache.fleet_current()  # the provider's lists are cached from here on
    with CaptureQueriesContext(connection) as few:
        client.get(path)
    _operations_everywhere(30)  # also a new key for the fleet table's shared rendering

    with django_assert_max_num_queries(min(bound, len(few))):
        response = client.get(path)

    assert response.status_code == 200
    running = Operation.objects.active().count()
    assert running == 11
    if path == "/":
        assert response.content.decode().count('class="chip chip-in_progress"') == running
    elif path == "/activity/":
        assert response.content.decode().count("<td>Create snapshot</td>") == 33


def test_fleet_page_queries_do_not_grow_with_servers(
    seeded_simulator: RunningSimulator,
    client: Client,
    viewer: User,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    from provider_sim.seed import seed_bulk

    client.force_login(viewer)
    _operations_everywhere(3)
    fleet_cache.fleet_current()
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    seed_bulk(300, 1)
    fleet_cache.fleet_invalidate()
    fleet_cache.fleet_current()

    with django_assert_max_num_queries(len(few)):
        response = client.get("/")

    assert response.status_code == 200
    assert f"{len(DEMO_SERVERS) + 300} servers at the provider." in page_text(response)
    assert len(fleet_rows(response)) == 100  # the first page of them


def test_status_partial_costs_a_fixed_handful_of_queries(
    client: Client,
    viewer: User,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    client.force_login(viewer)
    _operations_everywhere(30)
    operation = Operation.objects.active().first()
    assert operation is not None
    client.get(f"/operations/{operation.pk}/", headers={"HX-Request": "true"})

    # Session, user, permissions (2), two-factor device and policy, the operation.
    with django_assert_max_num_queries(7):
        response = client.get(f"/operations/{operation.pk}/", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert f'id="operation-{operation.pk}"' in response.content.decode()
