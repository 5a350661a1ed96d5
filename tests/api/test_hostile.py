"""Hostile input: bad names, ids, JSON, types, sizes and credentials. Each is a 4xx problem
and none reaches the provider."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from provider_sim import controls
from tests.api.conftest import bearer
from tests.views.helpers import NEWEST, WEB

CREATE = f"/api/v1/servers/{WEB}/snapshots/"
RESTORE = f"/api/v1/snapshots/{NEWEST}/restore/"
JSON = "application/json"

# (method, path, body: an object sent as JSON or bytes sent as they are, content type, status)
# fmt: off
HOSTILE: list[tuple[str, str, object, str, int]] = [
    ("POST", CREATE, {"name": "has spaces"}, JSON, 400),
    ("POST", CREATE, {"name": ""}, JSON, 400),
    ("POST", CREATE, {"name": "x" * 65}, JSON, 400),
    ("POST", CREATE, {"name": "x" * 100_000}, JSON, 413),
    ("POST", CREATE, {"name": 123}, JSON, 400),
    ("POST", CREATE, {"name": None}, JSON, 400),
    ("POST", CREATE, {"name": ["a"]}, JSON, 400),
    ("POST", CREATE, {"name": {"$gt": ""}}, JSON, 400),
    ("POST", CREATE, {"name": "../../etc/passwd"}, JSON, 400),
    ("POST", CREATE, {"name": "<script>alert(1)</script>"}, JSON, 400),
    ("POST", CREATE, {"name": "snäpshot"}, JSON, 400),
    ("POST", CREATE, {"name": "a\u0000b"}, JSON, 400),
    ("POST", CREATE, {"name": "ok-name", "description": "d" * 300}, JSON, 400),
    ("POST", CREATE, {"name": "ok-name", "description": 7}, JSON, 400),
    ("POST", CREATE, {"name": "ok-name", "keep_until": "yesterday"}, JSON, 400),
    ("POST", CREATE, {"name": "ok-name", "keep_until": "2001-01-01T00:00:00Z"}, JSON, 400),
    ("POST", CREATE, {"name": "ok-name", "replace_oldest": "yes"}, JSON, 400),
    ("POST", CREATE, {"name": "ok-name", "replace_oldest": 1}, JSON, 400),
    ("POST", CREATE, b"{", JSON, 400),
    ("POST", CREATE, b"[]", JSON, 400),
    ("POST", CREATE, b'"ok-name"', JSON, 400),
    ("POST", CREATE, b"\xff\xfe", JSON, 400),
    ("POST", CREATE, b"[" * 5000 + b"]" * 5000, JSON, 400),
    ("POST", CREATE, b"name=ok-name", "application/x-www-form-urlencoded", 415),
    ("POST", CREATE, b"ok-name", "text/plain", 415),
    ("POST", "/api/v1/servers/abc/snapshots/", {"name": "ok-name"}, JSON, 404),
    ("POST", "/api/v1/servers/-1/snapshots/", {"name": "ok-name"}, JSON, 404),
    ("POST", "/api/v1/servers/1234567890123456/snapshots/", {"name": "ok-name"}, JSON, 404),
    ("POST", "/api/v1/servers/999999/snapshots/", {"name": "ok-name"}, JSON, 404),
    ("POST", "/api/v1/servers/12345/snapshots", {"name": "ok-name"}, JSON, 404),
    ("POST", RESTORE, {}, JSON, 400),
    ("POST", RESTORE, {"confirm_name": 12345}, JSON, 400),
    ("POST", RESTORE, {"confirm_name": "web-server-01", "safety_snapshot": "true"}, JSON, 400),
    ("POST", RESTORE, {"confirm_name": "WEB-SERVER-01"}, JSON, 400),
    ("POST", "/api/v1/snapshots/99999999999999999999/restore/", {}, JSON, 404),
    ("DELETE", "/api/v1/snapshots/777777/", None, JSON, 404),
    ("DELETE", "/api/v1/snapshots/0x1f/", None, JSON, 404),
    ("GET", "/api/v1/operations/abc/", None, JSON, 404),
    ("GET", "/api/v1/operations/0/", None, JSON, 404),
    ("GET", "/api/v1/operations/1/?wait=1000", None, JSON, 400),
    ("GET", "/api/v1/activity/?limit=0", None, JSON, 400),
    ("GET", "/api/v1/activity/?server=abc", None, JSON, 400),
    ("GET", "/api/v1/activity/?kind=everything", None, JSON, 400),
    ("GET", "/api/v1/activity/?offset=-5", None, JSON, 400),
    ("GET", "/api/v1/../../etc/passwd", None, JSON, 404),
    ("PATCH", CREATE, {"name": "ok-name"}, JSON, 405),
]
# fmt: on


def _send(client: Client, method: str, path: str, body: object, content_type: str,
          headers: dict[str, str]) -> object:  # fmt: skip
    data = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body))
    return client.generic(method, path, data=data, content_type=content_type, headers=headers)


@pytest.fixture
def every_scope(seeded_simulator: object, token_for, admin_user, api) -> str:
    """An Admin's token with every scope, the provider's lists read, the call counter at 0."""
    raw = token_for(admin_user, "read,create,restore,delete")
    assert api("GET", "/api/v1/servers/", raw).status_code == 200
    controls.reset_call_counts()
    return raw


def test_hostile_inputs_are_problems_that_never_reach_the_provider(
    client: Client, every_scope: str
) -> None:
    assert len(HOSTILE) >= 30
    wrong = []
    for method, path, body, content_type, status in HOSTILE:
        response = _send(client, method, path, body, content_type, bearer(every_scope))
        if response.status_code != status or response["Content-Type"] != (
            "application/problem+json"
        ):
            wrong.append(f"{method} {path} {str(body)[:40]}: {response.status_code}")
        elif not response.json()["detail"]:
            wrong.append(f"{method} {path}: no detail")

    assert wrong == []
    assert controls.call_counts()["calls"] == 0


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-token"}, 401),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401),
        ({"Authorization": "Bearer sdt_000000000000_" + "A" * 43}, 401),
        ({"Authorization": "Bearer " + "x" * 10_000}, 401),
        ({"Idempotency-Key": "k" * 300}, 400),
        ({"Idempotency-Key": "tab\there"}, 400),
    ],
)
def test_hostile_credentials_and_keys(
    client: Client, every_scope: str, headers: dict[str, str], status: int
) -> None:
    sent = headers if status == 401 else {**bearer(every_scope), **headers}

    response = _send(client, "POST", CREATE, {"name": "ok-name"}, JSON, sent)

    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    if status == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert controls.call_counts()["calls"] == 0
