"""The simulated provider's endpoints (views.py) over real HTTP: the spec's examples,
servers, authentication, invalid requests and pagination."""

from typing import Any

import pytest
import requests

from provider_sim.models import SimServer, SimSnapshot
from provider_sim.seed import seed_bulk
from provider_sim.server import RunningSimulator
from tests.provider_sim.helpers import (
    SPEC_CREATE_REQUEST,
    SPEC_CREATED,
    SPEC_LIST,
    SPEC_RESTORED,
    TIMEOUT,
    TIMESTAMP,
    call,
    server_status,
    shape,
)

# --- The spec's examples ---------------------------------------------------------------------


def test_list_snapshots_of_a_server_is_shaped_like_the_spec(
    seeded_simulator: RunningSimulator,
) -> None:
    response = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["count"] == 2
    assert body["next"] is None
    assert body["previous"] is None
    assert [item["id"] for item in body["results"]] == [801, 798]  # newest first
    for item in body["results"]:
        assert shape(item) == shape(SPEC_LIST["results"][0])
        assert TIMESTAMP.match(item["created_at"])
    assert body["results"][0]["name"] == "pre-migration-snapshot"
    assert body["results"][0]["size_mb"] == 5120


def test_list_all_snapshots_spans_servers_newest_first(
    seeded_simulator: RunningSimulator,
) -> None:
    body = call(seeded_simulator, "GET", "snapshots/").json()

    assert body["count"] == SimSnapshot.objects.count() == len(body["results"])
    assert len({item["server"]["id"] for item in body["results"]}) >= 4
    created = [item["created_at"] for item in body["results"]]
    assert created == sorted(created, reverse=True)
    assert {"in_progress", "completed", "failed"} >= {item["status"] for item in body["results"]}


def test_create_snapshot_answers_like_the_spec(seeded_simulator: RunningSimulator) -> None:
    response = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST)

    assert response.status_code == 201
    body = response.json()
    assert shape(body) == {**shape(SPEC_CREATED), "size_mb": "NoneType"}
    assert body["server"] == SPEC_CREATED["server"]
    assert body["name"] == "before-update-snapshot"
    assert body["description"] == "Snapshot before system update"
    assert body["status"] == "in_progress"
    assert body["size_mb"] is None
    assert body["message"] == SPEC_CREATED["message"]
    assert TIMESTAMP.match(body["created_at"])
    assert body["id"] > 801


def test_restore_answers_like_the_spec(seeded_simulator: RunningSimulator) -> None:
    response = call(seeded_simulator, "POST", "snapshots/801/restore/")

    assert response.status_code == 200
    body = response.json()
    assert shape(body) == shape(SPEC_RESTORED)
    assert body["status"] == "success"
    assert body["message"] == SPEC_RESTORED["message"]
    assert body["snapshot"]["id"] == 801
    assert body["snapshot"]["name"] == "pre-migration-snapshot"
    assert body["server"] == SPEC_RESTORED["server"]


def test_delete_snapshot_answers_204_with_an_empty_body(
    seeded_simulator: RunningSimulator,
) -> None:
    response = call(seeded_simulator, "DELETE", "snapshots/798/")

    assert response.status_code == 204
    assert response.content == b""
    remaining = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345}).json()
    assert [item["id"] for item in remaining["results"]] == [801]
    assert call(seeded_simulator, "DELETE", "snapshots/798/").status_code == 404


# --- Servers (assumed endpoints) -------------------------------------------------------------


def test_servers_carry_the_named_fields_and_some_more(seeded_simulator: RunningSimulator) -> None:
    body = call(seeded_simulator, "GET", "servers/").json()

    assert body["count"] == len(body["results"]) >= 5
    assert body["next"] is None
    first = body["results"][0]
    assert first == {
        "id": 12345,
        "name": "web-server-01",
        "status": "running",
        "ip_address": "203.0.113.10",
        "region": "ams1",
        "plan": "vps-2c-4g",
        "disk_gb": 80,
    }
    assert {server["status"] for server in body["results"]} == {"running", "stopped"}

    detail = call(seeded_simulator, "GET", "servers/12350/")
    assert detail.status_code == 200
    assert detail.json()["name"] == "db-primary"
    assert detail.json()["status"] == "stopped"


def test_unknown_server_snapshot_and_endpoint_are_404(seeded_simulator: RunningSimulator) -> None:
    cases = [
        ("GET", "servers/99999/", None),
        ("POST", "snapshots/", {"server_id": 99999, "name": "x"}),
        ("POST", "snapshots/99999/restore/", None),
        ("DELETE", "snapshots/99999/", None),
        ("DELETE", "snapshots/99999999999999999999999/", None),
        ("GET", "backups/", None),
    ]
    for method, path, body in cases:
        response = call(seeded_simulator, method, path, json=body)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}


# --- Authentication --------------------------------------------------------------------------

API_CALLS = [
    ("GET", "snapshots/"),
    ("POST", "snapshots/"),
    ("POST", "snapshots/801/restore/"),
    ("DELETE", "snapshots/801/"),
    ("GET", "servers/"),
    ("GET", "servers/12345/"),
]


@pytest.mark.parametrize(("method", "path"), API_CALLS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Token dev-token"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_every_endpoint_needs_the_token(
    seeded_simulator: RunningSimulator, method: str, path: str, headers: dict[str, str]
) -> None:
    response = requests.request(
        method,
        seeded_simulator.base_url + path,
        headers=headers,
        json={"server_id": 12345, "name": "unauthorised"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 401
    assert response.json()["detail"]
    assert SimSnapshot.objects.filter(pk=801).exists()
    assert SimSnapshot.objects.count() == 12
    assert server_status(seeded_simulator, 12345) == "running"


# --- Invalid requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["bad name", "snap.shot", "snapshot/1", "ünïcode", "", "x" * 65, None, 123]
)
def test_create_rejects_an_invalid_name(seeded_simulator: RunningSimulator, name: Any) -> None:
    body = {"server_id": 12345, "description": "d"}
    if name is not None:
        body["name"] = name

    response = call(seeded_simulator, "POST", "snapshots/", json=body)

    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["name"]
    assert isinstance(errors["name"], list)
    assert errors["name"][0]


def test_create_accepts_the_longest_valid_name(seeded_simulator: RunningSimulator) -> None:
    name = "A-z_0" * 12 + "abcd"
    assert len(name) == 64

    response = call(seeded_simulator, "POST", "snapshots/", json={"server_id": 12346, "name": name})

    assert response.status_code == 201
    assert response.json()["name"] == name
    assert response.json()["description"] == ""


def test_create_reports_every_invalid_field(seeded_simulator: RunningSimulator) -> None:
    response = call(
        seeded_simulator,
        "POST",
        "snapshots/",
        json={"server_id": "twelve", "name": "ok", "description": "x" * 256},
    )

    assert response.status_code == 400
    assert set(response.json()) == {"server_id", "description"}


def test_name_error_speaks_the_providers_words(seeded_simulator: RunningSimulator) -> None:
    response = call(
        seeded_simulator, "POST", "snapshots/", json={"server_id": 12345, "name": "a b"}
    )

    assert response.json() == {
        "name": ["Snapshot names may contain only letters, digits, dashes and underscores."]
    }


def test_sixth_snapshot_is_refused(seeded_simulator: RunningSimulator) -> None:
    response = call(
        seeded_simulator, "POST", "snapshots/", json={"server_id": 12351, "name": "one-more"}
    )

    assert response.status_code == 400
    assert "limit" in response.json()["detail"].lower()
    assert SimSnapshot.objects.filter(server_id=12351).count() == 5


def test_snapshots_in_progress_count_towards_the_limit(seeded_simulator: RunningSimulator) -> None:
    # web-server-02 has one completed snapshot; four more in progress reach the limit.
    for number in range(4):
        created = call(
            seeded_simulator,
            "POST",
            "snapshots/",
            json={"server_id": 12346, "name": f"burst-{number}"},
        )
        assert created.status_code == 201

    refused = call(
        seeded_simulator, "POST", "snapshots/", json={"server_id": 12346, "name": "burst-5"}
    )

    assert refused.status_code == 400
    assert "detail" in refused.json()


@pytest.mark.parametrize("value", ["abc", "1.5", "12345x"])
def test_invalid_server_id_filter_is_a_field_error(
    seeded_simulator: RunningSimulator, value: str
) -> None:
    response = call(seeded_simulator, "GET", "snapshots/", params={"server_id": value})

    assert response.status_code == 400
    assert response.json() == {"server_id": ["A valid integer is required."]}


def test_filter_by_a_server_without_snapshots_gives_an_empty_list(
    seeded_simulator: RunningSimulator,
) -> None:
    for server_id in (12360, 424242):
        body = call(seeded_simulator, "GET", "snapshots/", params={"server_id": server_id}).json()
        assert body == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("body", ['{"server_id": 12345, "name": ', "[1, 2]", "\xff\xfe"])
def test_malformed_json_body_is_a_400(seeded_simulator: RunningSimulator, body: str) -> None:
    for path in ("snapshots/", "snapshots/801/restore/"):
        response = call(seeded_simulator, "POST", path, data=body.encode("latin-1"))
        assert response.status_code == 400, path
        assert response.headers["Content-Type"] == "application/json"
    assert server_status(seeded_simulator, 12345) == "running"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "snapshots/", "GET, POST"),
        ("GET", "snapshots/801/", "DELETE"),
        ("GET", "snapshots/801/restore/", "POST"),
        ("DELETE", "servers/12345/", "GET"),
    ],
)
def test_wrong_method_is_a_405(
    seeded_simulator: RunningSimulator, method: str, path: str, allowed: str
) -> None:
    response = call(seeded_simulator, method, path)

    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.json()["detail"]


# --- Pagination ------------------------------------------------------------------------------


def test_following_next_links_gives_every_snapshot_once(
    simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_PAGE_SIZE = 7
    seed_bulk(12, 3)

    url: str | None = simulator.base_url + "snapshots/"
    ids: list[int] = []
    created: list[str] = []
    pages = 0
    while url:
        response = requests.get(
            url, headers={"Authorization": f"Bearer {simulator.token}"}, timeout=TIMEOUT
        )
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 36
        assert (body["previous"] is None) == (pages == 0)
        ids += [item["id"] for item in body["results"]]
        created += [item["created_at"] for item in body["results"]]
        url = body["next"]
        pages += 1
        assert url is None or url.startswith(simulator.base_url + "snapshots/?")

    assert pages == 6
    assert len(ids) == len(set(ids)) == 36
    assert set(ids) == set(SimSnapshot.objects.values_list("id", flat=True))
    assert created == sorted(created, reverse=True)


def test_page_links_keep_the_filter(simulator: RunningSimulator, settings: Any) -> None:
    settings.VPS_SIM_PAGE_SIZE = 2
    seed_bulk(2, 5)
    server_id = SimServer.objects.get(name="srv-0002").pk

    first = call(simulator, "GET", "snapshots/", params={"server_id": server_id}).json()
    second = requests.get(
        first["next"], headers={"Authorization": f"Bearer {simulator.token}"}, timeout=TIMEOUT
    ).json()

    assert first["count"] == 5
    assert f"server_id={server_id}" in first["next"]
    assert "page=2" in first["next"]
    assert second["previous"] == f"{simulator.base_url}snapshots/?server_id={server_id}"
    assert {item["server"]["id"] for item in first["results"] + second["results"]} == {server_id}


def test_servers_are_paginated_too(simulator: RunningSimulator, settings: Any) -> None:
    settings.VPS_SIM_PAGE_SIZE = 4
    seed_bulk(10, 0)

    first = call(simulator, "GET", "servers/").json()
    last = call(simulator, "GET", "servers/", params={"page": 3}).json()

    assert first["count"] == 10
    assert first["next"] == f"{simulator.base_url}servers/?page=2"
    assert [server["name"] for server in last["results"]] == ["srv-0009", "srv-0010"]
    assert last["next"] is None


@pytest.mark.parametrize("page", ["0", "99", "two"])
def test_invalid_page_is_a_404(seeded_simulator: RunningSimulator, page: str) -> None:
    response = call(seeded_simulator, "GET", "snapshots/", params={"page": page})

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}
