"""Who may call what: every API endpoint, method, token scope and owner's role.

A token's scopes are checked against its owner's role at each call, so the matrix also holds
tokens whose scopes exceed the role (made before a demotion): they get a 403 like a token
without the scope. A refused call never reaches the provider. An endpoint without a row here
fails ``test_every_api_url_has_a_row``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from snapshots_ui.api_tokens import _hash
from snapshots_ui.models import ApiToken
from tests.factories import OperationFactory
from tests.views.helpers import NEWEST, WEB, provider_calls

ROLES = ("viewer", "operator", "admin_user")
# What each role may do (roles.py): the scope → permission map of api_tokens.
ROLE_ALLOWS = {
    "viewer": {"read"},
    "operator": {"read", "create", "restore"},
    "admin_user": {"read", "create", "restore", "delete"},
}
TOKENS = (None, "read", "create", "restore", "delete")
PUBLIC = "public"


@dataclass(frozen=True)
class Endpoint:
    """One method of one URL; ``scope`` is what it needs (``PUBLIC``: nothing). ``allowed``
    is the answer an allowed call gets with ``body`` (chosen to stop before the provider
    acts: an invalid name, a wrong confirmation, an unknown snapshot)."""

    key: str
    method: str
    path: str
    scope: str
    allowed: int
    body: dict[str, object] = field(default_factory=dict)


# fmt: off
ENDPOINTS = [
    Endpoint("api:servers", "GET", "/api/v1/servers/", "read", 200),
    Endpoint("api:server_snapshots", "GET", f"/api/v1/servers/{WEB}/snapshots/", "read", 200),
    Endpoint("api:server_snapshots", "POST", f"/api/v1/servers/{WEB}/snapshots/", "create", 400,
             {"name": "not valid"}),
    Endpoint("api:snapshot_restore", "POST", f"/api/v1/snapshots/{NEWEST}/restore/", "restore",
             400, {"confirm_name": "not-the-server"}),
    Endpoint("api:snapshot", "DELETE", "/api/v1/snapshots/999999/", "delete", 404),
    Endpoint("api:operation", "GET", "/api/v1/operations/{operation}/", "read", 200),
    Endpoint("api:activity", "GET", "/api/v1/activity/", "read", 200),
    Endpoint("api:schema", "GET", "/api/schema/", PUBLIC, 200),
    Endpoint("api:docs", "GET", "/api/docs/", PUBLIC, 200),
    Endpoint("api:not_found", "GET", "/api/v1/nothing-here/", PUBLIC, 404),
]
# Methods an endpoint does not take: 405 for a token with every scope.
NOT_ALLOWED = [
    ("POST", "/api/v1/servers/"),
    ("PUT", f"/api/v1/servers/{WEB}/snapshots/"),
    ("GET", "/api/v1/snapshots/999999/"),
    ("GET", f"/api/v1/snapshots/{NEWEST}/restore/"),
    ("DELETE", "/api/v1/operations/{operation}/"),
    ("POST", "/api/v1/activity/"),
]
# fmt: on


def _api_keys(patterns: list[object], namespace: str = "") -> set[str]:
    keys: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            keys |= _api_keys(pattern.url_patterns, inner)
        elif namespace.startswith("api:"):
            keys.add(f"{namespace}{pattern.name}")
    return keys


def test_every_api_url_has_a_row() -> None:
    served = _api_keys(get_resolver("dashboard.urls").url_patterns)

    assert served == {endpoint.key for endpoint in ENDPOINTS}


def _token(user: object, scope: str) -> str:
    """A token with ``scope`` whatever the owner's role (as one made before a demotion)."""
    prefix = secrets.token_hex(6)
    raw = f"sdt_{prefix}_{secrets.token_urlsafe(32)}"
    ApiToken.objects.create(user=user, name=f"t-{prefix}", prefix=prefix, token_hash=_hash(raw),
                            scopes=scope)  # fmt: skip
    return raw


def _expected(endpoint: Endpoint, role: str, scope: str | None) -> int:
    if endpoint.scope == PUBLIC:
        return endpoint.allowed
    if scope is None:
        return 401
    if scope == endpoint.scope and scope in ROLE_ALLOWS[role]:
        return endpoint.allowed
    return 403


def _call(client: Client, method: str, path: str, raw: str | None, body: object) -> object:
    headers = {"Authorization": f"Bearer {raw}"} if raw else {}
    return client.generic(method, path, data=json.dumps(body),
                          content_type="application/json", headers=headers)  # fmt: skip


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_api_authorisation_matrix(
    seeded_simulator: object, client: Client, request: pytest.FixtureRequest, endpoint: Endpoint
) -> None:
    path = endpoint.path.format(operation=OperationFactory().pk)
    wrong: list[str] = []
    for role in ROLES:
        user = request.getfixturevalue(role)
        for scope in TOKENS:
            raw = _token(user, scope) if scope else None
            before = provider_calls()
            response = _call(client, endpoint.method, path, raw, endpoint.body)
            expected = _expected(endpoint, role, scope)
            case = f"{role} with {scope or 'no'} token: {response.status_code}, not {expected}"
            if response.status_code != expected:
                wrong.append(case)
            if expected in (401, 403):
                assert response["Content-Type"] == "application/problem+json", case
                assert provider_calls() == before, f"{case}: a refused call reached the provider"

    assert wrong == []


@pytest.mark.parametrize(("method", "path"), NOT_ALLOWED)
def test_methods_an_endpoint_does_not_take(
    db: None, client: Client, admin_user: object, method: str, path: str
) -> None:
    raw = _token(admin_user, "read,create,restore,delete")

    response = _call(client, method, path.format(operation=OperationFactory().pk), raw, {})

    assert response.status_code == 405
    assert response.json()["status"] == 405
