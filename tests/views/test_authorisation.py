"""Who may do what: the authorisation matrix of every URL and role, the buttons each role
is shown, and logging in."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group, User
from django.db.models import Model
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django_otp.plugins.otp_totp.models import TOTPDevice

from provider_sim.server import RunningSimulator
from snapshots_ui.api_tokens import api_token_create
from snapshots_ui.audit import SYSTEM
from snapshots_ui.models import AuditEvent, NotificationTarget, SecurityPolicy
from tests.factories import (
    PASSWORD,
    OperationFactory,
    ScheduleFactory,
    UserFactory,
    WorkflowFactory,
)
from tests.views.authorisation_matrix import (
    DENIED,
    DENIED_PLAIN,
    LOGIN,
    NO_METHOD,
    ROLES,
    ROUTES,
    Answer,
    Route,
)
from tests.views.helpers import (
    EMPTY,
    FRIENDLY_403,
    NEWEST,
    WEB,
    htmx_headers,
    page_text,
    provider_calls,
)

# Django admin's views that change data have keys of their own in the matrix.
ADMIN_CHANGES_DATA = re.compile(r"_(add|change|delete|password_change)$")


def _admin_key(url_name: str | None) -> str:
    return f"admin:{url_name}" if url_name and ADMIN_CHANGES_DATA.search(url_name) else "admin"


def _served_url_keys(
    patterns: list[URLPattern | URLResolver], namespace: str = "", prefix: str = ""
) -> set[str]:
    """Every URL pattern of the URLconf as a matrix key (see ``authorisation_matrix``)."""
    keys: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if namespace == "admin:" or pattern.namespace == "admin":
                keys |= {
                    _admin_key(getattr(inner, "name", None))
                    for inner in _flatten(pattern.url_patterns)
                }
                continue
            if pattern.namespace == "api":  # its own matrix: tests/api/test_authorisation.py
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            keys |= _served_url_keys(pattern.url_patterns, inner, prefix + str(pattern.pattern))
        elif pattern.name:
            keys.add(f"{namespace}{pattern.name}")
        else:
            keys.add(prefix + str(pattern.pattern))
    return keys


def _flatten(patterns: list[URLPattern | URLResolver]) -> list[URLPattern]:
    flat: list[URLPattern] = []
    for pattern in patterns:
        flat += _flatten(pattern.url_patterns) if isinstance(pattern, URLResolver) else [pattern]
    return flat


def test_every_served_url_has_an_entry_in_the_authorisation_matrix() -> None:
    served = _served_url_keys(get_resolver("dashboard.urls").url_patterns)

    assert served == {route.key for route in ROUTES}


PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
def test_matrix_paths_resolve_to_their_url(route: Route) -> None:
    match = resolve(PLACEHOLDER.sub("1", route.path))

    if match.namespace == "admin":
        key = _admin_key(match.url_name)
    else:
        key = match.view_name if match.url_name else match.route
    assert key == route.key


# What a placeholder in a matrix path stands for: an object made for the test.
OBJECTS: dict[str, Callable[[], Model]] = {
    # On a server the other routes do not act on.
    "operation": lambda: OperationFactory(server_id=EMPTY, server_name="staging-app"),
    "workflow": lambda: WorkflowFactory(server_id=EMPTY),
    "schedule": lambda: ScheduleFactory(),
    "target": lambda: NotificationTarget.objects.create(
        name="matrix", kind="email", address="team@example.com"
    ),
    # Someone else's token.
    "token": lambda: api_token_create(
        actor=SYSTEM,
        user=UserFactory(username="tess", role="Operator"),
        name="ci",
        scopes=["read"],
        lifetime=None,
    )[0],
    "user": lambda: UserFactory(username="matrix-target", role="Viewer"),
    "group": lambda: Group.objects.get(name="Viewer"),
    "policy": lambda: SecurityPolicy.current(),
    "auditevent": lambda: AuditEvent.objects.create(action="matrix-check"),
    "accessattempt": lambda: AccessAttempt.objects.create(
        username="matrix", ip_address="192.0.2.9", failures_since_start=1
    ),
    "accessfailurelog": lambda: AccessFailureLog.objects.create(
        username="matrix", ip_address="192.0.2.9"
    ),
    "accesslog": lambda: AccessLog.objects.create(username="matrix", ip_address="192.0.2.9"),
    "totpdevice": lambda: TOTPDevice.objects.create(
        user=UserFactory(username="matrix-totp"), name="phone"
    ),
}
# What Django admin can change, read before and after a request that must change nothing.
WATCHED = (User, Group, SecurityPolicy, AuditEvent, AccessAttempt, AccessLog, TOTPDevice)


def _data_state() -> dict[str, list[tuple[object, ...]]]:
    return {
        model.__name__: sorted(map(tuple, model.objects.values_list()), key=repr)
        for model in WATCHED
    }


def _objects_for(path: str) -> dict[str, int]:
    SecurityPolicy.current()  # made on first use (by any page): here, before any request
    return {name: OBJECTS[name]().pk for name in set(PLACEHOLDER.findall(path))}


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings, roles: None) -> None:  # type: ignore[no-untyped-def]
    """The matrix makes users and sets passwords by the hundred: with the production hasher
    that is most of a second each, for checks that are about who may, not about hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
    objects = _objects_for(route.path)
    path = route.path.format(**objects)
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    before = _data_state()

    response = client.get(path) if method == "GET" else client.post(path, route.data)

    _assert_answer(response, expected, path=path, objects=objects)
    if _is_refusal(expected):
        assert _data_state() == before, "a refused request must change nothing"


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
def test_put_patch_and_delete_are_refused(
    seeded_simulator: RunningSimulator,
    client: Client,
    request: pytest.FixtureRequest,
    route: Route,
) -> None:
    objects = _objects_for(route.path)
    path = route.path.format(**objects)

    for role, expected in zip(ROLES, route.others, strict=True):
        client.logout()
        if role != "anonymous":
            client.force_login(request.getfixturevalue(role))
        before = _data_state()
        for method in ("put", "patch", "delete"):
            response = getattr(client, method)(path, route.data, content_type="application/json")

            _assert_answer(response, expected, path=path, objects=objects, method=method)
        assert _data_state() == before, role


def _is_refusal(answer: Answer) -> bool:
    login_page = (answer.location or "").startswith(("/login/?next=", "/admin/login/?next="))
    return answer.status in (403, 405) or login_page


def _assert_answer(
    response: HttpResponse,
    expected: Answer,
    *,
    path: str,
    objects: dict[str, int],
    method: str = "",
) -> None:
    assert response.status_code == expected.status, method
    if expected.location is not None:
        assert response["Location"] == expected.location.format(path=quote(path), **objects)
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

    assert response.status_code == 200  # htmx follows HX-Redirect only on a 2xx answer
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
