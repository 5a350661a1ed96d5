"""The provider client over real HTTP against the simulator: every endpoint, each error class,
retries and timeouts."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests

from provider_sim import controls
from provider_sim.models import SimServer, SimSnapshot
from provider_sim.server import RunningSimulator
from snapshots_ui import provider
from snapshots_ui.provider import (
    ProviderClient,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnauthorized,
    ProviderUnavailable,
)


def client_for(
    sim: RunningSimulator, *, token: str | None = None, read: float = 5
) -> ProviderClient:
    return ProviderClient(base_url=sim.base_url, token=token or sim.token, timeout=(2, read))


# --- Every endpoint, over real HTTP ---------------------------------------------------------


def test_list_snapshots_returns_typed_results(seeded_simulator: RunningSimulator) -> None:
    snapshots = client_for(seeded_simulator).list_snapshots()

    assert len(snapshots) == SimSnapshot.objects.count() > 5
    first = snapshots[0]
    assert isinstance(first, provider.Snapshot)
    assert isinstance(first.server, provider.ServerRef)
    assert first.created_at is not None
    assert first.created_at.tzinfo is not None
    assert {s.status for s in snapshots} >= {"completed"}


def test_list_snapshots_of_one_server(seeded_simulator: RunningSimulator) -> None:
    snapshots = client_for(seeded_simulator).list_snapshots(server_id=12345)

    assert snapshots
    assert {s.server.id for s in snapshots} == {12345}
    assert {s.server.name for s in snapshots} == {"web-server-01"}


def test_listing_follows_next_links_to_the_end(seeded_simulator, settings) -> None:
    settings.VPS_SIM_PAGE_SIZE = 3
    controls.reset_call_counts()

    snapshots = client_for(seeded_simulator).list_snapshots()

    ids = [s.id for s in snapshots]
    total = SimSnapshot.objects.count()
    assert len(ids) == total == len(set(ids))
    pages = -(-total // 3)
    assert controls.call_counts()["by_endpoint"]["GET /api/v1/snapshots/"] == pages


def test_list_servers_includes_servers_without_snapshots(seeded_simulator) -> None:
    servers = client_for(seeded_simulator).list_servers()

    by_name = {server.name: server for server in servers}
    assert len(servers) == SimServer.objects.count()
    assert by_name["web-server-01"].status == "running"
    assert any(server.status == "stopped" for server in servers)
    with_snapshots = {s.server.id for s in client_for(seeded_simulator).list_snapshots()}
    assert any(server.id not in with_snapshots for server in servers)


def test_list_servers_falls_back_to_snapshot_list_when_provider_has_no_servers_endpoint(
    seeded_simulator,
) -> None:
    controls.add_fault(path_contains="/servers/", status=404)

    servers = client_for(seeded_simulator).list_servers()

    names = {server.name for server in servers}
    assert "web-server-01" in names
    assert all(server.status is None for server in servers)


def test_get_server(seeded_simulator) -> None:
    server = client_for(seeded_simulator).get_server(server_id=12345)

    assert server == provider.Server(id=12345, name="web-server-01", status="running")


def test_get_unknown_server_is_not_found(seeded_simulator) -> None:
    with pytest.raises(ProviderNotFound):
        client_for(seeded_simulator).get_server(server_id=999999)


def test_create_restore_and_delete(seeded_simulator, settings) -> None:
    client = client_for(seeded_simulator)
    server = SimServer.objects.filter(snapshots__isnull=True).first()
    assert server is not None
    settings.VPS_SIM_CREATE_SECONDS = 0  # completes on the next request

    created = client.create_snapshot(server_id=server.pk, name="before-update", description="x")
    assert created.snapshot.status == "in_progress"
    assert created.snapshot.size_mb is None
    assert created.snapshot.server.id == server.pk
    assert "3-10 minutes" in created.message

    done = [s for s in client.list_snapshots(server_id=server.pk) if s.id == created.snapshot.id]
    assert done[0].status == "completed"
    assert done[0].size_mb

    restore = client.restore_snapshot(snapshot_id=created.snapshot.id)
    assert restore.server_status == "restoring"
    assert "5-15 minutes" in restore.message
    assert client.get_server(server_id=server.pk).status == "restoring"

    with pytest.raises(ProviderRejected) as already:
        client.restore_snapshot(snapshot_id=created.snapshot.id)
    assert already.value.status_code == 400
    assert already.value.message  # the provider's own words

    other = client.create_snapshot(server_id=12345, name="to-delete")
    client.list_snapshots(server_id=12345)  # lets the simulator complete it (duration 0)
    client.delete_snapshot(snapshot_id=other.snapshot.id)
    assert other.snapshot.id not in {s.id for s in client.list_snapshots(server_id=12345)}
    with pytest.raises(ProviderNotFound):
        client.delete_snapshot(snapshot_id=other.snapshot.id)


# --- Each error class -----------------------------------------------------------------------


def test_bad_name_is_rejected_with_the_providers_field_error(seeded_simulator) -> None:
    with pytest.raises(ProviderRejected) as rejected:
        client_for(seeded_simulator).create_snapshot(server_id=12345, name="has spaces")

    assert rejected.value.status_code == 400
    assert "name" in rejected.value.field_errors
    assert "letters" in rejected.value.message.lower()


def test_snapshot_limit_is_rejected_with_the_providers_words(seeded_simulator) -> None:
    full = next(s for s in SimServer.objects.all() if s.snapshots.count() == 5)

    with pytest.raises(ProviderRejected) as rejected:
        client_for(seeded_simulator).create_snapshot(server_id=full.pk, name="one-too-many")

    assert rejected.value.status_code == 400
    assert "5" in rejected.value.message


def test_create_on_unknown_server_is_not_found(seeded_simulator) -> None:
    with pytest.raises(ProviderNotFound):
        client_for(seeded_simulator).create_snapshot(server_id=424242, name="nope")


def test_wrong_token_is_unauthorised_and_never_shown(seeded_simulator, caplog) -> None:
    secret = "s3cret-token-value-never-shown"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ProviderUnauthorized) as unauthorised:
        client_for(seeded_simulator, token=secret).list_snapshots()

    assert unauthorised.value.status_code == 401
    assert secret not in str(unauthorised.value)
    assert secret not in caplog.text


def test_revoked_token_gives_unauthorised(seeded_simulator) -> None:
    controls.set_token("rotated-token")

    with pytest.raises(ProviderUnauthorized):
        client_for(seeded_simulator).list_servers()


def test_rate_limit_carries_retry_after(seeded_simulator) -> None:
    controls.add_fault(status=429, retry_after=30, times=5)

    with pytest.raises(ProviderUnavailable) as limited:
        client_for(seeded_simulator).list_snapshots()

    assert limited.value.status_code == 429
    assert limited.value.retry_after == 30


def test_short_rate_limit_on_a_get_is_retried_inline(seeded_simulator) -> None:
    controls.add_fault(status=429, retry_after=1, times=1)
    controls.reset_call_counts()

    snapshots = client_for(seeded_simulator).list_snapshots()

    assert len(snapshots) == SimSnapshot.objects.count()
    # The 429, then the retry that was answered: two requests, not one and not three.
    assert controls.call_counts()["by_endpoint"] == {"GET /api/v1/snapshots/": 2}


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_unavailable(seeded_simulator, status: int) -> None:
    controls.add_fault(status=status)

    with pytest.raises(ProviderUnavailable) as unavailable:
        client_for(seeded_simulator).list_servers()

    assert unavailable.value.status_code == status


def test_create_is_never_retried_after_a_server_error(seeded_simulator) -> None:
    controls.add_fault(method="POST", status=503, times=1)
    controls.reset_call_counts()

    with pytest.raises(ProviderUnavailable):
        client_for(seeded_simulator).create_snapshot(server_id=12345, name="only-once")

    assert controls.call_counts()["by_endpoint"]["POST /api/v1/snapshots/"] == 1


def test_html_error_page_is_unavailable_with_a_plain_sentence(seeded_simulator) -> None:
    controls.add_fault(status=502, body="html")

    with pytest.raises(ProviderUnavailable) as unavailable:
        client_for(seeded_simulator).list_snapshots()

    assert "<" not in unavailable.value.message
    assert "502" in unavailable.value.message


def test_malformed_json_is_unavailable(seeded_simulator) -> None:
    controls.add_fault(status=200, body="malformed")

    with pytest.raises(ProviderUnavailable) as unavailable:
        client_for(seeded_simulator).list_snapshots()

    assert "could not be read" in unavailable.value.message


@pytest.mark.parametrize("shape", ["detail", "error", "message"])
def test_error_words_are_read_from_any_body_shape(seeded_simulator, shape: str) -> None:
    controls.add_fault(method="POST", status=400, error_shape=shape, message="Quota exceeded.")

    with pytest.raises(ProviderRejected) as rejected:
        client_for(seeded_simulator).create_snapshot(server_id=12345, name="ok-name")

    assert rejected.value.message == "Quota exceeded."


def test_read_timeout_is_applied_and_not_retried(seeded_simulator) -> None:
    controls.add_fault(timeout_seconds=3)
    controls.reset_call_counts()
    client = client_for(seeded_simulator, read=0.5)

    with pytest.raises(ProviderUnavailable) as unavailable:
        client.list_snapshots()

    # One try: the provider may be doing the work, so a timed-out read is not sent again.
    assert controls.call_counts()["by_endpoint"] == {"GET /api/v1/snapshots/": 1}
    assert "did not answer within 0.5 seconds" in unavailable.value.message


def test_connection_refused_is_unavailable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ProviderClient(base_url=f"http://127.0.0.1:{port}/api/v1/", token="t", timeout=(1, 1))

    with pytest.raises(ProviderUnavailable) as unavailable:
        client.list_servers()

    assert unavailable.value.message == "The provider could not be reached."


def test_every_request_carries_the_configured_timeout(monkeypatch) -> None:
    seen: list[Any] = []

    def fake_send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.get("timeout"))
        raise requests.ConnectionError("no network in this test")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", fake_send)
    client = ProviderClient(
        base_url="http://provider.invalid/api/v1/", token="t", timeout=(3.05, 20)
    )

    for call in (
        lambda: client.list_snapshots(),
        lambda: client.list_servers(),
        lambda: client.create_snapshot(server_id=1, name="a"),
        lambda: client.restore_snapshot(snapshot_id=1),
        lambda: client.delete_snapshot(snapshot_id=1),
    ):
        with pytest.raises(ProviderUnavailable):
            call()

    assert seen
    assert all(timeout == (3.05, 20) for timeout in seen)
