"""The provider simulator, driven over real HTTP like the dashboard drives the provider."""

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from provider_sim import controls
from provider_sim.faults import FaultRuleError
from provider_sim.models import SimServer, SimSnapshot
from provider_sim.seed import seed_bulk, seed_demo_data
from provider_sim.server import RunningSimulator, start_in_thread

TIMEOUT = 10
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# The provider's own examples (docs/spec), used for their fields and shapes.
SPEC_LIST = {
    "count": 2,
    "results": [
        {
            "id": 801,
            "server": {"id": 12345, "name": "web-server-01"},
            "name": "pre-migration-snapshot",
            "status": "completed",
            "size_mb": 5120,
            "created_at": "2025-01-15T18:30:00Z",
            "description": "Before major migration",
        },
    ],
}
SPEC_CREATE_REQUEST = {
    "server_id": 12345,
    "name": "before-update-snapshot",
    "description": "Snapshot before system update",
}
SPEC_CREATED = {
    "id": 802,
    "server": {"id": 12345, "name": "web-server-01"},
    "name": "before-update-snapshot",
    "status": "in_progress",
    "size_mb": None,
    "created_at": "2025-01-16T16:15:00Z",
    "description": "Snapshot before system update",
    "message": "Snapshot is being created. This may take 3-10 minutes depending on server size.",
}
SPEC_RESTORED = {
    "status": "success",
    "message": "Server is being restored from snapshot. This may take 5-15 minutes.",
    "snapshot": {"id": 801, "name": "pre-migration-snapshot", "created_at": "2025-01-15T18:30:00Z"},
    "server": {"id": 12345, "name": "web-server-01", "status": "restoring"},
}


def call(
    sim: RunningSimulator,
    method: str,
    path: str,
    *,
    token: str | None = None,
    timeout: float = TIMEOUT,
    **kwargs: Any,
) -> requests.Response:
    """One API request with the simulator's token (or ``token``), as the spec's examples."""
    headers = {"Authorization": f"Bearer {token or sim.token}", "Content-Type": "application/json"}
    return requests.request(method, sim.base_url + path, headers=headers, timeout=timeout, **kwargs)


def control(sim: RunningSimulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {sim.token}"}
    return requests.request(
        method, f"{sim.root_url}_sim/{path}", headers=headers, timeout=TIMEOUT, **kwargs
    )


def shape(value: Any) -> Any:
    """The field names (recursively) and value types of a JSON document."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def server_status(sim: RunningSimulator, server_id: int) -> str:
    return call(sim, "GET", f"servers/{server_id}/").json()["status"]


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


# --- Time ------------------------------------------------------------------------------------


def test_snapshot_completes_once_its_time_has_passed(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    created = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST).json()

    listed = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345}).json()
    assert listed["results"][0]["id"] == created["id"]
    assert listed["results"][0]["status"] == "in_progress"
    assert listed["results"][0]["size_mb"] is None

    # An hour later (moved, not waited for).
    SimSnapshot.objects.filter(pk=created["id"]).update(
        complete_at=timezone.now() - timedelta(seconds=1)
    )
    listed = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345}).json()

    done = listed["results"][0]
    assert done["id"] == created["id"]
    assert done["status"] == "completed"
    assert 80 * 1024 * 0.04 <= done["size_mb"] <= 80 * 1024 * 0.09
    assert done["created_at"] == created["created_at"]


def test_snapshot_duration_comes_from_the_setting(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 0.3
    created = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST).json()
    assert created["status"] == "in_progress"

    time.sleep(0.4)
    listed = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345}).json()

    assert listed["results"][0]["status"] == "completed"
    assert listed["results"][0]["size_mb"] > 0


def test_restore_of_a_running_server(seeded_simulator: RunningSimulator, settings: Any) -> None:
    settings.VPS_SIM_RESTORE_SECONDS = 3600
    assert call(seeded_simulator, "POST", "snapshots/801/restore/").status_code == 200
    assert server_status(seeded_simulator, 12345) == "restoring"

    again = call(seeded_simulator, "POST", "snapshots/798/restore/")
    snapshot_meanwhile = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST)

    assert again.status_code == 400
    assert "restor" in again.json()["detail"]
    assert snapshot_meanwhile.status_code == 400
    assert "restor" in snapshot_meanwhile.json()["detail"]

    SimServer.objects.filter(pk=12345).update(restore_due_at=timezone.now() - timedelta(seconds=1))

    assert server_status(seeded_simulator, 12345) == "running"
    assert call(seeded_simulator, "POST", "snapshots/798/restore/").status_code == 200


def test_restore_of_a_stopped_server_leaves_it_stopped(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_RESTORE_SECONDS = 0

    response = call(seeded_simulator, "POST", "snapshots/790/restore/")

    assert response.json()["server"] == {"id": 12350, "name": "db-primary", "status": "restoring"}
    assert server_status(seeded_simulator, 12350) == "stopped"


def test_only_completed_snapshots_can_be_restored(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    created = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST).json()

    in_progress = call(seeded_simulator, "POST", f"snapshots/{created['id']}/restore/")
    failed = call(seeded_simulator, "POST", "snapshots/800/restore/")

    assert in_progress.status_code == 400
    assert failed.status_code == 400
    assert "completed" in failed.json()["detail"]
    assert server_status(seeded_simulator, 12345) == "running"
    assert server_status(seeded_simulator, 12350) == "stopped"


def test_a_snapshot_in_progress_cannot_be_deleted(
    seeded_simulator: RunningSimulator, settings: Any
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600
    created = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST).json()

    refused = call(seeded_simulator, "DELETE", f"snapshots/{created['id']}/")
    SimSnapshot.objects.filter(pk=created["id"]).update(complete_at=timezone.now())
    accepted = call(seeded_simulator, "DELETE", f"snapshots/{created['id']}/")

    assert refused.status_code == 400
    assert refused.json()["detail"]
    assert accepted.status_code == 204
    assert call(seeded_simulator, "DELETE", "snapshots/800/").status_code == 204  # failed


# --- Faults ----------------------------------------------------------------------------------


def test_status_fault_with_retry_after(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(status=429, retry_after=7)

    response = call(seeded_simulator, "GET", "snapshots/")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"] == "application/json"
    assert "7 seconds" in response.json()["detail"]


@pytest.mark.parametrize("error_shape", ["detail", "error", "message"])
def test_fault_error_shapes(seeded_simulator: RunningSimulator, error_shape: str) -> None:
    controls.add_fault(status=500, error_shape=error_shape, message="Database exploded")

    response = call(seeded_simulator, "GET", "servers/")

    assert response.status_code == 500
    assert response.json() == {error_shape: "Database exploded"}


def test_html_fault(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(status=502, body="html")

    response = call(seeded_simulator, "GET", "snapshots/")

    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text
    with pytest.raises(ValueError, match="Expecting"):
        response.json()


def test_malformed_json_fault(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(status=200, body="malformed")

    response = call(seeded_simulator, "GET", "snapshots/")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.text.startswith("{")
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        response.json()


def test_empty_fault(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(status=503, body="empty")

    response = call(seeded_simulator, "GET", "snapshots/")

    assert response.status_code == 503
    assert response.content == b""


def test_latency_fault_answers_normally_but_late(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(latency_ms=300)

    started = time.monotonic()
    response = call(seeded_simulator, "GET", "servers/12345/")

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert response.json()["name"] == "web-server-01"


def test_timeout_fault_trips_the_client_read_timeout(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(timeout_seconds=3, times=1)

    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        call(seeded_simulator, "GET", "snapshots/", timeout=(3.05, 0.3))

    assert time.monotonic() - started < 2
    assert call(seeded_simulator, "GET", "snapshots/").status_code == 200


def test_a_create_whose_answer_times_out_still_happens(seeded_simulator: RunningSimulator) -> None:
    """Why a create must never be retried blindly: the provider did it, the answer was late."""
    controls.add_fault(method="POST", timeout_seconds=3, times=1)

    with pytest.raises(requests.exceptions.ReadTimeout):
        call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST, timeout=(3.05, 0.3))

    listed = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345}).json()
    assert listed["results"][0]["name"] == "before-update-snapshot"


def test_status_fault_does_not_serve_the_request(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(method="POST", status=504, latency_ms=100, times=1)

    response = call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST)

    assert response.status_code == 504
    assert not SimSnapshot.objects.filter(name="before-update-snapshot").exists()


def test_fault_expires_after_times_uses(seeded_simulator: RunningSimulator) -> None:
    fault_id = controls.add_fault(status=503, times=2)

    codes = [call(seeded_simulator, "GET", "snapshots/").status_code for _ in range(3)]

    assert codes == [503, 503, 200]
    assert controls.list_faults() == [
        {
            "id": fault_id,
            "method": None,
            "path_contains": None,
            "status": 503,
            "retry_after": None,
            "latency_ms": 0,
            "timeout_seconds": 0.0,
            "body": "json",
            "error_shape": "detail",
            "message": None,
            "times": 0,
        }
    ]


def test_fault_matches_method_and_path(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(method="post", path_contains="/restore/", status=500)

    assert call(seeded_simulator, "GET", "snapshots/").status_code == 200
    assert call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST).status_code == 201
    assert call(seeded_simulator, "POST", "snapshots/801/restore/").status_code == 500
    assert server_status(seeded_simulator, 12345) == "running"


def test_fault_status_404_on_servers_mimics_a_provider_without_them(
    seeded_simulator: RunningSimulator,
) -> None:
    controls.add_fault(path_contains="/api/v1/servers/", status=404)

    assert call(seeded_simulator, "GET", "servers/").status_code == 404
    assert call(seeded_simulator, "GET", "snapshots/").status_code == 200


def test_clear_faults(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(status=500)
    controls.clear_faults()

    assert call(seeded_simulator, "GET", "snapshots/").status_code == 200
    assert controls.list_faults() == []


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({}, "non_field_errors"),
        ({"status": 500, "colour": "red"}, "non_field_errors"),
        ({"status": 99}, "status"),
        ({"status": "500"}, "status"),
        ({"status": 500, "body": "xml"}, "body"),
        ({"status": 500, "error_shape": "errors"}, "error_shape"),
        ({"status": 500, "times": 0}, "times"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"timeout_seconds": True}, "timeout_seconds"),
    ],
)
def test_invalid_fault_rules_are_refused(db: None, rule: dict[str, Any], field: str) -> None:
    with pytest.raises(FaultRuleError) as caught:
        controls.add_fault(**rule)

    assert field in caught.value.errors


def test_revoked_token_gives_401_until_faults_are_cleared(
    seeded_simulator: RunningSimulator,
) -> None:
    controls.set_token("rotated-token")

    assert call(seeded_simulator, "GET", "snapshots/").status_code == 401
    assert call(seeded_simulator, "GET", "snapshots/", token="rotated-token").status_code == 200
    # The control API still takes the configured token.
    assert control(seeded_simulator, "GET", "faults/").status_code == 200

    controls.clear_faults()

    assert call(seeded_simulator, "GET", "snapshots/").status_code == 200


# --- Call counter ----------------------------------------------------------------------------


def test_call_counter_is_exact_under_concurrent_requests(
    seeded_simulator: RunningSimulator,
) -> None:
    controls.reset_call_counts()

    def list_snapshots(_: int) -> int:
        return call(seeded_simulator, "GET", "snapshots/").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(list_snapshots, range(40)))
    call(seeded_simulator, "POST", "snapshots/801/restore/")
    call(seeded_simulator, "DELETE", "snapshots/798/", token="wrong")
    call(seeded_simulator, "GET", "servers/12345/")
    control(seeded_simulator, "GET", "stats/")  # the control API is not counted

    assert codes == [200] * 40
    assert controls.call_counts() == {
        "calls": 43,
        "by_endpoint": {
            "GET /api/v1/snapshots/": 40,
            "POST /api/v1/snapshots/{id}/restore/": 1,
            "DELETE /api/v1/snapshots/{id}/": 1,
            "GET /api/v1/servers/{id}/": 1,
        },
    }


def test_reset_call_counts(seeded_simulator: RunningSimulator) -> None:
    call(seeded_simulator, "GET", "servers/")
    assert controls.call_counts()["calls"] == 1

    controls.reset_call_counts()

    assert controls.call_counts() == {"calls": 0, "by_endpoint": {}}


# --- Control API over HTTP -------------------------------------------------------------------


def test_control_api_needs_the_configured_token(seeded_simulator: RunningSimulator) -> None:
    for method, path in [("GET", "faults/"), ("GET", "stats/"), ("POST", "reset/")]:
        response = requests.request(method, f"{seeded_simulator.root_url}_sim/{path}", timeout=10)
        assert response.status_code == 401


def test_control_api_faults(seeded_simulator: RunningSimulator) -> None:
    created = control(
        seeded_simulator, "POST", "faults/", json={"status": 503, "retry_after": 2, "times": 1}
    )
    assert created.status_code == 201
    assert created.json()["id"] > 0
    assert created.json()["times"] == 1

    listed = control(seeded_simulator, "GET", "faults/").json()
    assert [rule["id"] for rule in listed["results"]] == [created.json()["id"]]

    refused = control(seeded_simulator, "POST", "faults/", json={"status": 503, "body": "xml"})
    assert refused.status_code == 400
    assert "body" in refused.json()

    assert call(seeded_simulator, "GET", "snapshots/").status_code == 503
    assert control(seeded_simulator, "POST", "faults/", json={"status": 500}).status_code == 201
    assert control(seeded_simulator, "DELETE", "faults/").status_code == 204
    assert control(seeded_simulator, "GET", "faults/").json() == {"results": []}
    assert call(seeded_simulator, "GET", "snapshots/").status_code == 200


def test_control_api_token(seeded_simulator: RunningSimulator) -> None:
    response = control(seeded_simulator, "POST", "token/", json={"token": "revoked-elsewhere"})

    assert response.status_code == 200
    assert call(seeded_simulator, "GET", "servers/").status_code == 401

    control(seeded_simulator, "DELETE", "faults/")

    assert call(seeded_simulator, "GET", "servers/").status_code == 200
    assert control(seeded_simulator, "POST", "token/", json={"token": 5}).status_code == 400


def test_control_api_stats(seeded_simulator: RunningSimulator) -> None:
    call(seeded_simulator, "GET", "snapshots/")
    call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345})
    call(seeded_simulator, "GET", "nothing-here/")

    stats = control(seeded_simulator, "GET", "stats/").json()

    assert stats == {
        "calls": 3,
        "by_endpoint": {"GET /api/v1/snapshots/": 2, "GET /api/v1/(unknown)": 1},
    }
    assert control(seeded_simulator, "DELETE", "stats/").status_code == 204
    assert control(seeded_simulator, "GET", "stats/").json()["calls"] == 0


def test_control_api_reset(seeded_simulator: RunningSimulator) -> None:
    call(seeded_simulator, "POST", "snapshots/", json=SPEC_CREATE_REQUEST)
    call(seeded_simulator, "DELETE", "snapshots/798/")
    controls.add_fault(status=500, path_contains="/servers/")
    controls.set_token("other")

    response = control(seeded_simulator, "POST", "reset/")

    assert response.status_code == 200
    assert controls.list_faults() == []
    assert controls.call_counts()["calls"] == 0
    body = call(seeded_simulator, "GET", "snapshots/", params={"server_id": 12345}).json()
    assert [item["id"] for item in body["results"]] == [801, 798]
    assert call(seeded_simulator, "GET", "servers/").json()["count"] == 6


def test_control_api_seed(simulator: RunningSimulator) -> None:
    response = control(simulator, "POST", "seed/", json={"servers": 25, "snapshots_per_server": 4})

    assert response.status_code == 201
    assert response.json() == {"servers": 25, "snapshots": 100}
    names = call(simulator, "GET", "servers/").json()["results"]
    assert names[0]["name"] == "srv-0001"
    assert names[-1]["name"] == "srv-0025"
    for bad in ({"servers": 0}, {"servers": 2, "snapshots_per_server": 6}, {"servers": "x"}):
        assert control(simulator, "POST", "seed/", json=bad).status_code == 400


# --- Seed data -------------------------------------------------------------------------------


def test_demo_data_is_realistic_and_seeded_once(db: None) -> None:
    seed_demo_data()
    seed_demo_data()

    servers = {server.pk: server for server in SimServer.objects.all()}
    assert len(servers) == 6
    assert servers[12345].name == "web-server-01"
    assert servers[12345].status == "running"
    assert servers[12350].name == "db-primary"
    assert servers[12350].status == "stopped"
    counts = {pk: server.snapshots.count() for pk, server in servers.items()}
    assert counts[12345] == 2
    assert max(counts.values()) == 5
    assert min(counts.values()) == 0
    full = next(pk for pk, count in counts.items() if count == 5)
    assert servers[full].status == "running"
    assert set(servers[full].snapshots.values_list("status", flat=True)) == {"completed"}
    for snapshot in SimSnapshot.objects.all():
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", snapshot.name)
        assert snapshot.created_at < timezone.now()
        assert (snapshot.size_mb is None) == (snapshot.status == "failed")
    oldest = SimSnapshot.objects.order_by("created_at").first()
    assert oldest is not None
    assert timezone.now() - oldest.created_at > timedelta(weeks=3)


def test_bulk_seed_numbering_continues(db: None) -> None:
    seed_bulk(3, 2)
    seed_bulk(2, 1)

    names = list(SimServer.objects.order_by("id").values_list("name", flat=True))
    assert names == ["srv-0001", "srv-0002", "srv-0003", "srv-0004", "srv-0005"]
    assert SimSnapshot.objects.count() == 8
    assert not SimSnapshot.objects.filter(size_mb__isnull=True).exists()


# --- Serving ---------------------------------------------------------------------------------


def test_stop_is_prompt_with_open_and_held_connections(transactional_db: None) -> None:
    sim = start_in_thread()  # its own, not the session's shared simulator
    try:
        seed_demo_data()
        session = requests.Session()  # keeps its connection open between requests
        assert session.get(
            sim.base_url + "servers/",
            headers={"Authorization": f"Bearer {sim.token}"},
            timeout=TIMEOUT,
        ).ok
        controls.add_fault(timeout_seconds=60)
        outcome: list[object] = []

        def held_request() -> None:
            try:
                outcome.append(call(sim, "GET", "snapshots/", timeout=5).status_code)
            except requests.RequestException as exc:
                outcome.append(exc)

        held = threading.Thread(target=held_request, daemon=True)
        held.start()
        time.sleep(0.3)

        started = time.monotonic()
        sim.stop()

        assert time.monotonic() - started < 3
        with pytest.raises(requests.ConnectionError):
            requests.get(sim.base_url + "servers/", timeout=2)
        sim.stop()  # a second stop is harmless
        session.close()
        held.join(5)
        assert outcome  # the held request ended instead of waiting 60 s
    finally:
        sim.stop()


def _database_url() -> str | None:
    """The test database as a DATABASE_URL for a child process, if the engine is known."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = quote(db["USER"] or "", safe="")
        password = quote(db["PASSWORD"] or "", safe="")
        return (
            f"postgres://{user}:{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        )
    return None


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_management_command_serves_until_signalled(
    transactional_db: None, stop_signal: signal.Signals
) -> None:
    database_url = _database_url()
    if database_url is None:
        pytest.skip("unknown database engine")
    env = {**os.environ, "DATABASE_URL": database_url, "VPS_API_TOKEN": "command-token"}
    env.pop("VPS_SIM_TOKEN", None)
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "provider_sim", "--port", "0", "--create-seconds", "0"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the simulator did not start"
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/api/v1/)", line)
        assert match, line
        base_url = match.group(1)

        headers = {"Authorization": "Bearer command-token"}
        servers = requests.get(base_url + "servers/", headers=headers, timeout=TIMEOUT)
        created = requests.post(
            base_url + "snapshots/", headers=headers, json=SPEC_CREATE_REQUEST, timeout=TIMEOUT
        )
        listed = requests.get(
            base_url + "snapshots/?server_id=12345", headers=headers, timeout=TIMEOUT
        )

        assert servers.status_code == 200
        assert servers.json()["count"] == 6
        assert created.status_code == 201
        assert listed.json()["results"][0]["status"] == "completed"  # --create-seconds 0

        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
