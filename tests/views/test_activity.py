"""The activity page and its CSV export."""

from __future__ import annotations

import html
import re

import pytest
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from provider_sim import controls
from provider_sim.seed import DEMO_SERVERS
from provider_sim.server import RunningSimulator
from snapshots_ui.models import Operation, OperationKind
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory
from tests.views.helpers import (
    EMPTY,
    PRIMARY,
    REPLICA,
    WEB,
    WEB_NAME,
    csv_rows,
    htmx_headers,
    page_text,
)


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
NOT_A_SERVER = "That is not a server the dashboard knows; choose one from the list."


def shown_activity(response: HttpResponse) -> set[str]:
    return {name for name in ACTIVITY_NAMES if name in response.content.decode()}


def test_activity_lists_every_operation(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    activity_operations: dict[str, Operation],
) -> None:
    response = viewer_client.get("/activity/")

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
    viewer_client: Client,
    activity_operations: dict[str, Operation],
    query: dict[str, str],
    expected: set[str],
) -> None:
    response = viewer_client.get("/activity/", query)

    assert response.status_code == 200
    assert shown_activity(response) == expected
    if not expected:
        assert "No activity matches." in page_text(response)


def server_options(response: HttpResponse) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of each option of the "Server" filter."""
    select = re.search(r'<select name="server".*?</select>', response.content.decode(), re.S)
    assert select, "no server list"
    return [
        (value, html.unescape(label), bool(selected))
        for value, selected, label in re.findall(
            r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select[0]
        )
    ]


def test_activity_offers_the_providers_servers_by_name(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    activity_operations: dict[str, Operation],
) -> None:
    OperationFactory(server_id=99, server_name="retired-box", snapshot_name="act-gone")

    options = server_options(viewer_client.get("/activity/"))

    assert options[0] == ("", "Any server", True)
    named = {value: label for value, label, _selected in options[1:]}
    assert {int(value) for value in named} == {server[0] for server in DEMO_SERVERS} | {99}
    assert named[str(WEB)] == WEB_NAME
    assert named["99"] == "retired-box"  # known only from what an operation recorded
    labels = [label for _value, label, _selected in options[1:]]
    assert labels == sorted(labels, key=str.casefold)


def test_the_server_pages_link_filters_the_activity_by_that_server(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    activity_operations: dict[str, Operation],
) -> None:
    link = f"/activity/?server={WEB}"
    assert f'href="{link}"' in viewer_client.get(f"/servers/{WEB}/").content.decode()

    response = viewer_client.get(link)

    assert shown_activity(response) == {"act-create"}
    assert (str(WEB), WEB_NAME, True) in server_options(response)


def test_without_provider_data_the_servers_are_named_from_the_operations(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    activity_operations: dict[str, Operation],
) -> None:
    controls.add_fault(path_contains="/api/v1/", status=503)

    response = viewer_client.get("/activity/", {"server": str(EMPTY)})

    assert response.status_code == 200
    assert server_options(response)[1:] == [
        (str(PRIMARY), "db-primary", False),
        (str(REPLICA), "db-replica", False),
        (str(WEB), WEB_NAME, False),
        (str(EMPTY), f"Server #{EMPTY}", True),  # asked for; nothing recorded on it
    ]
    assert "No activity matches." in page_text(response)


def test_activity_htmx_filter_returns_only_the_table(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    activity_operations: dict[str, Operation],
) -> None:
    response = viewer_client.get(
        "/activity/", {"kind": "create"}, headers=htmx_headers("activity-table")
    )

    body = response.content.decode().strip()
    assert body.startswith('<div id="activity-table"')
    assert "<html" not in body
    assert shown_activity(response) == {"act-create"}


@pytest.mark.parametrize(
    ("query", "messages"),
    [
        (
            {"server": "abc", "kind": "bogus"},
            [NOT_A_SERVER, "Select a valid choice. bogus is not one of the available"],
        ),
        ({"state": "exploded"}, ["Select a valid choice. exploded is not one of the available"]),
        ({"server": "9" * 30}, [NOT_A_SERVER]),
        ({"server": "-1", "page": "zzz"}, [NOT_A_SERVER]),
    ],
)
def test_activity_with_invalid_filters_explains_instead_of_failing(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    activity_operations: dict[str, Operation],
    query: dict[str, str],
    messages: list[str],
) -> None:
    response = viewer_client.get("/activity/", query)

    assert response.status_code == 200
    text = page_text(response)
    for message in messages:
        assert message in text
    assert "Some filters were not understood and are ignored" in text
    assert shown_activity(response) == ACTIVITY_NAMES


def test_activity_keeps_valid_filters_when_another_is_invalid(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    activity_operations: dict[str, Operation],
) -> None:
    response = viewer_client.get("/activity/", {"kind": "restore", "server": "abc"})

    assert NOT_A_SERVER in page_text(response)
    assert shown_activity(response) == {"act-restore"}


def test_activity_pages_keep_the_filters(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    OperationFactory.create_batch(51, kind=OperationKind.DELETE, state=OperationState.SUCCEEDED)

    first = viewer_client.get("/activity/", {"kind": "delete"})
    second = viewer_client.get("/activity/", {"kind": "delete", "page": "2"})

    assert "Page 1 of 2" in page_text(first)
    assert 'href="?kind=delete&amp;page=2"' in first.content.decode()
    assert first.content.decode().count("<td>Delete snapshot</td>") == 50
    assert "Page 2 of 2" in page_text(second)
    assert 'href="?kind=delete&amp;page=1"' in second.content.decode()
    assert second.content.decode().count("<td>Delete snapshot</td>") == 1


def test_activity_csv_has_a_header_and_a_row_per_operation(
    seeded_simulator: RunningSimulator,
    viewer_client: Client,
    activity_operations: dict[str, Operation],
) -> None:
    response = viewer_client.get("/activity.csv")

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
    viewer_client: Client,
    activity_operations: dict[str, Operation],
) -> None:
    _header, *rows = csv_rows(viewer_client.get("/activity.csv", {"state": "failed"}))

    assert [row[9] for row in rows] == ["act-delete"]


def test_activity_export_link_carries_the_filters(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    response = viewer_client.get("/activity/", {"kind": "restore", "page": "1"})

    assert 'href="/activity.csv?kind=restore"' in response.content.decode()


def test_activity_csv_neutralises_spreadsheet_formulas(
    seeded_simulator: RunningSimulator, viewer_client: Client
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

    header, row = csv_rows(viewer_client.get("/activity.csv"))

    exported = dict(zip(header, row, strict=True))
    assert exported["snapshot"] == '\'=HYPERLINK("http://example.invalid","x")'
    assert exported["who"] == "'@SUM(A1)"
    assert exported["server"] == "'+cmd"
    assert exported["provider_message"] == "'-2+3"
    assert exported["error"] == "'\t=1"
