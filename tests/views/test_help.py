"""The provider's guidance where a snapshot is taken, and the help page it links to."""

from __future__ import annotations

from django.test import Client

from provider_sim.server import RunningSimulator
from tests.views.helpers import WEB, page_text, visible_text


def test_the_guidance_stands_beside_take_a_snapshot(
    seeded_simulator: RunningSimulator, operator_client: Client
) -> None:
    body = page_text(operator_client.get(f"/servers/{WEB}/"))
    create = body[body.index('id="create"') :]

    assert "short-term rollback" in create
    assert "A server holds 5 snapshots at most." in create
    assert "stop the server first" in create
    assert 'href="/help/snapshots/"' in create


def test_the_help_page_compares_snapshots_and_backups(
    seeded_simulator: RunningSimulator, viewer_client: Client
) -> None:
    text = visible_text(viewer_client.get("/help/snapshots/"))

    assert "Quick point-in-time recovery" in text
    assert "5 snapshots per server" in text
    assert "Disaster recovery and compliance" in text
    assert "delete old snapshots once an update has worked." in text
