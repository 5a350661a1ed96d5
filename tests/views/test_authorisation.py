"""Who may do what: the authorisation matrix of every URL and role, the buttons each role
is shown, and logging in."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from provider_sim.server import RunningSimulator
from snapshots_ui.models import NotificationTarget
from tests.factories import PASSWORD, OperationFactory, ScheduleFactory, WorkflowFactory
from tests.views.helpers import (
    EMPTY,
    FRIENDLY_403,
    NEWEST,
    OLDER,
    WEB,
    WEB_NAME,
    htmx_headers,
    page_text,
    provider_calls,
)


@dataclass(frozen=True)
class Answer:
    """What one role gets for one request: a status, and for a redirect where it leads."""

    status: int
    # For redirects; "{path}" stands for the requested path, URL-quoted.
    location: str | None = None
    # A refusal in plain text (for machines) rather than the friendly page.
    plain: bool = False


OK = Answer(200)
INVALID = Answer(400)
DENIED = Answer(403)  # always the dashboard's friendly 403 page
DENIED_PLAIN = Answer(403, plain=True)  # a plain-text refusal for machines
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
TO_WORKFLOW_SERVER = to(f"/servers/{EMPTY}/")
TO_SCHEDULES = to("/schedules/")
TO_TARGET = to("/notifications/targets/{target}/")
ADMINS_ONLY: Row = (LOGIN, DENIED, DENIED, OK)
NOT_FOUND = Answer(404)
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
    # Changing one's password: any logged-in user (a wrong old password shows the form again).
    Route("password_change", "/account/password/", ANY_ROLE, ANY_ROLE,
          data={"old_password": "not-it", "new_password1": "x", "new_password2": "x"}),
    Route("password_reset", "/password-reset/", everyone(OK), everyone(OK)),
    Route("password_reset_done", "/password-reset/done/", everyone(OK), everyone(NO_METHOD)),
    Route("password_reset_confirm", "/reset/MQ/not-a-token/", everyone(OK), everyone(OK)),
    Route("password_reset_complete", "/reset/done/", everyone(OK), everyone(NO_METHOD)),
    # Infrastructure: open to everyone.
    Route("health", "/health/", everyone(OK), everyone(NO_METHOD)),
    Route("health_provider", "/health/provider/", everyone(OK), everyone(NO_METHOD)),
    # Prometheus: only the addresses in METRICS_ALLOW_IPS or a bearer token (none here).
    Route("metrics", "/metrics", everyone(DENIED_PLAIN), everyone(NO_METHOD)),
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
          data={"confirm_name": WEB_NAME, "safety": "skip"}),
    Route("snapshots_ui:snapshot_delete", f"/snapshots/{OLDER}/delete/",
          (LOGIN, DENIED, DENIED, OK), (LOGIN, DENIED, DENIED, TO_SERVER)),
    Route("snapshots_ui:operation_status", "/operations/{operation}/", ANY_ROLE,
          everyone(NO_METHOD)),
    Route("snapshots_ui:operation_resolve", "/operations/{operation}/resolve/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, to(f"/servers/{EMPTY}/")),
          data={"action": "failed", "note": "Checked at the provider's console."}),
    Route("snapshots_ui:activity", "/activity/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:activity_csv", "/activity.csv", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:provider", "/provider/", (LOGIN, DENIED, DENIED, OK), everyone(NO_METHOD)),
    # A snapshot's life: keeping and protecting is for Operators, lifting a protection,
    # deleting many and acknowledging a vanished one for Admins.
    Route("snapshots_ui:snapshot_keep", f"/snapshots/{NEWEST}/keep/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_SERVER, TO_SERVER), data={"keep_days": "7"}),
    Route("snapshots_ui:snapshot_protect", f"/snapshots/{NEWEST}/protect/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_SERVER, TO_SERVER)),
    Route("snapshots_ui:snapshot_unprotect", f"/snapshots/{NEWEST}/unprotect/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, TO_SERVER)),
    Route("snapshots_ui:snapshot_gone_acknowledge", f"/snapshots/{OLDER}/gone/acknowledge/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, NOT_FOUND)),
    Route("snapshots_ui:snapshots_delete_many", "/snapshots/delete/",
          (LOGIN, DENIED, DENIED, OK), (LOGIN, DENIED, DENIED, INVALID),
          data={"confirm": "delete everything"}),
    Route("snapshots_ui:workflow_status", "/workflows/{workflow}/", ANY_ROLE,
          everyone(NO_METHOD)),
    Route("snapshots_ui:workflow_cancel", "/workflows/{workflow}/cancel/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_WORKFLOW_SERVER, TO_WORKFLOW_SERVER)),
    # Schedules: everyone reads them; Operators make and change them.
    Route("snapshots_ui:schedules", "/schedules/", ANY_ROLE, everyone(NO_METHOD)),
    Route("snapshots_ui:schedule_new", "/schedules/new/", (LOGIN, DENIED, OK, OK),
          (LOGIN, DENIED, INVALID, INVALID), data={"name": "", "save": "1"}),
    Route("snapshots_ui:schedule_edit", "/schedules/{schedule}/", (LOGIN, DENIED, OK, OK),
          (LOGIN, DENIED, INVALID, INVALID), data={"name": "", "save": "1"}),
    Route("snapshots_ui:schedule_pause", "/schedules/{schedule}/pause/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_SCHEDULES, TO_SCHEDULES), data={"action": "pause"}),
    Route("snapshots_ui:schedule_delete", "/schedules/{schedule}/delete/", everyone(NO_METHOD),
          (LOGIN, DENIED, TO_SCHEDULES, TO_SCHEDULES)),
    # Notifications: Admins manage the targets; everyone chooses their own email.
    Route("snapshots_ui:notify_targets", "/notifications/", ADMINS_ONLY, everyone(NO_METHOD)),
    Route("snapshots_ui:notify_target_new", "/notifications/targets/new/", ADMINS_ONLY,
          (LOGIN, DENIED, DENIED, INVALID), data={"name": ""}),
    Route("snapshots_ui:notify_target", "/notifications/targets/{target}/", ADMINS_ONLY,
          (LOGIN, DENIED, DENIED, INVALID), data={"name": ""}),
    Route("snapshots_ui:notify_target_test", "/notifications/targets/{target}/test/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, TO_TARGET)),
    Route("snapshots_ui:notify_target_resume", "/notifications/targets/{target}/resume/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, TO_TARGET)),
    Route("snapshots_ui:notify_target_delete", "/notifications/targets/{target}/delete/",
          everyone(NO_METHOD), (LOGIN, DENIED, DENIED, to("/notifications/"))),
    Route("snapshots_ui:notify_subscription", "/account/notifications/", ANY_ROLE,
          (LOGIN, INVALID, INVALID, INVALID), data={"scope": "matching", "server_pattern": ""}),
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
    match = resolve(route.path.format(operation=1, workflow=1, schedule=1, target=1))

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
    target_id = None
    if "{target}" in path:
        target_id = NotificationTarget.objects.create(
            name="matrix", kind="email", address="team@example.com"
        ).pk
        path = path.format(target=target_id)
    elif "{operation}" in path:  # on a server the other routes do not act on
        path = path.format(
            operation=OperationFactory(server_id=EMPTY, server_name="staging-app").pk
        )
    elif "{workflow}" in path:
        path = path.format(workflow=WorkflowFactory(server_id=EMPTY).pk)
    elif "{schedule}" in path:
        path = path.format(schedule=ScheduleFactory().pk)
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))

    response = client.get(path) if method == "GET" else client.post(path, route.data)

    assert response.status_code == expected.status
    if expected.location is not None:
        assert response["Location"] == expected.location.format(path=quote(path), target=target_id)
    if expected is DENIED:
        assert FRIENDLY_403 in page_text(response)
        assert "ask an administrator to change your role" in page_text(response)
    elif expected is DENIED_PLAIN:
        assert response["Content-Type"].startswith("text/plain")
        assert "METRICS_ALLOW_IPS" in page_text(response)
    elif response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        assert FRIENDLY_403 not in page_text(response)
    if expected in (LOGIN, DENIED, DENIED_PLAIN, NO_METHOD):
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
