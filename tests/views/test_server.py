"""The server page: its snapshots, warnings, and history."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from provider_sim.models import SimSnapshot
from provider_sim.server import RunningSimulator
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory
from tests.views.helpers import (
    EMPTY,
    NEWEST,
    OLDER,
    PRIMARY,
    REPLICA,
    WEB,
    page_text,
    snapshot_row_ids,
)


def test_server_page_lists_snapshots_newest_first(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    response = viewer_client.get(f"/servers/{REPLICA}/")

    newest_first = sorted(
        SimSnapshot.objects.filter(server_id=REPLICA), key=lambda s: s.created_at, reverse=True
    )
    assert snapshot_row_ids(response) == [s.pk for s in newest_first]
    assert len(newest_first) == 5
    assert "5 of 5 snapshots used" in page_text(response)


def test_server_page_shows_snapshot_details(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    response = viewer_client.get(f"/servers/{WEB}/")

    text = page_text(response)
    assert snapshot_row_ids(response) == [NEWEST, OLDER]
    assert "pre-migration-snapshot" in text
    assert "Before major migration" in text
    assert "5.0 GB" in text  # 5120 MB
    assert "2 of 5 snapshots used" in text


def test_server_without_snapshots_says_so(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    response = operator_client.get(f"/servers/{EMPTY}/")

    assert response.status_code == 200
    assert "This server has no snapshots yet." in page_text(response)
    assert "Take snapshot" in page_text(response)


def test_unknown_server_is_a_404_page_with_a_sentence(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    response = viewer_client.get("/servers/99999/")

    assert response.status_code == 404
    assert "No server with id 99999 is known to the provider." in page_text(response)
    assert "Back to the servers" in page_text(response)


def test_running_server_warns_before_a_snapshot(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    running = page_text(operator_client.get(f"/servers/{WEB}/"))
    stopped = page_text(operator_client.get(f"/servers/{PRIMARY}/"))

    warning = "A snapshot of a running server may capture an inconsistent file system"
    assert warning in running
    assert warning not in stopped


def test_provider_text_is_escaped_on_the_server_page(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    SimSnapshot.objects.filter(pk=NEWEST).update(description='<img src=x onerror="alert(1)">')

    response = viewer_client.get(f"/servers/{WEB}/")

    assert "<img src=x" not in response.content.decode()
    assert '<img src=x onerror="alert(1)">' in page_text(response)


def test_restore_button_follows_the_status_meaning_in_statuses(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    SimSnapshot.objects.filter(pk=NEWEST).update(status="available")

    response = operator_client.get(f"/servers/{WEB}/")

    assert f'href="/snapshots/{NEWEST}/restore/"' in response.content.decode()


def test_server_page_history_lists_what_was_done(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    OperationFactory(
        snapshot_name="history-entry",
        state=OperationState.FAILED,
        error="The provider refused: Quota exceeded.",
        finished_at=timezone.now(),
    )
    OperationFactory(server_id=REPLICA, server_name="db-replica", snapshot_name="elsewhere")

    text = page_text(viewer_client.get(f"/servers/{WEB}/"))

    assert "history-entry" in text
    assert "The provider refused: Quota exceeded." in text
    assert "elsewhere" not in text
