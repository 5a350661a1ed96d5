"""Fault injection (faults.py), the token and the call counter (controls.py), and the /_sim/
control API over HTTP (control_views.py)."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from provider_sim import controls
from provider_sim.faults import FaultRuleError
from provider_sim.models import SimSnapshot
from provider_sim.server import RunningSimulator
from tests.provider_sim.helpers import SPEC_CREATE_REQUEST, call, control, server_status

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


def test_latency_fault_holds_the_answer_then_answers_normally(
    seeded_simulator: RunningSimulator,
) -> None:
    controls.add_fault(latency_ms=300, times=2)

    # Held: no answer can come within a read timeout shorter than the latency.
    with pytest.raises(requests.exceptions.ReadTimeout):
        call(seeded_simulator, "GET", "servers/12345/", timeout=(3.05, 0.1))
    response = call(seeded_simulator, "GET", "servers/12345/")

    assert response.status_code == 200
    assert response.json()["name"] == "web-server-01"
    assert controls.list_faults()[0]["times"] == 0  # both requests met the latency


def test_timeout_fault_trips_the_client_read_timeout(seeded_simulator: RunningSimulator) -> None:
    controls.add_fault(timeout_seconds=3, times=1)

    with pytest.raises(requests.exceptions.ReadTimeout):
        call(seeded_simulator, "GET", "snapshots/", timeout=(3.05, 0.3))

    assert controls.list_faults()[0]["times"] == 0
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
        "throttled": 0,
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


def test_past_its_rate_limit_the_simulator_answers_429_with_retry_after(
    seeded_simulator: RunningSimulator, settings
) -> None:
    settings.VPS_SIM_RATE_LIMIT = 3
    answers = [call(seeded_simulator, "GET", "servers/") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert "throttled" in answers[-1].json()["detail"]
    assert control(seeded_simulator, "GET", "stats/").json()["throttled"] == 1
