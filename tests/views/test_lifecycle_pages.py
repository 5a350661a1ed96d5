"""The lifecycle on the pages: "keep until" when taking a snapshot and on each row, protection,
replacing the oldest at 5 of 5, the slots, deleting many, and the lifecycle events in the
activity and its CSV."""

from __future__ import annotations

import re
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from provider_sim.models import SimSnapshot
from snapshots_ui import lifecycle
from snapshots_ui.audit import Actor
from snapshots_ui.models import (
    Operation,
    OperationKind,
    SnapshotRecord,
    Workflow,
    WorkflowKind,
)
from tests.views.helpers import (
    CREATE_CALL,
    DELETE_CALL,
    NEWEST,
    OLDER,
    REPLICA,
    WEB,
    csv_rows,
    field_block,
    page_text,
    provider_calls,
    visible_text,
)

FULL = REPLICA  # db-replica: 5 of 5, the oldest is 785


def protect(snapshot_id: int, user) -> None:  # type: ignore[no-untyped-def]
    lifecycle.snapshot_protect(actor=Actor(user=user, ip=None), snapshot_id=snapshot_id,
                               protect=True)  # fmt: skip


def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    """A client of its own (the role fixtures' clients share one)."""
    client = Client()
    client.force_login(user)
    return client


# --- Keep until ---------------------------------------------------------------------------------


def test_a_snapshot_is_taken_with_how_long_to_keep_it(
    seeded_simulator, operator_client: Client
) -> None:
    page = operator_client.get(f"/servers/{WEB}/")
    block = field_block(page, "id_keep_days")
    assert re.findall(r"<option [^>]*>([^<]+)</option>", block) == [
        "1 day", "7 days", "30 days", "Keep until deleted"
    ]  # fmt: skip

    operator_client.post(f"/servers/{WEB}/snapshots/", {"name": "for-a-week", "keep_days": "7"})

    operation = Operation.objects.get(kind=OperationKind.CREATE)
    assert timedelta(days=6, hours=23) < operation.keep_until - timezone.now() <= timedelta(days=7)
    record = SnapshotRecord.objects.get(snapshot_id=operation.snapshot_id)
    assert record.keep_until == operation.keep_until


def test_a_create_without_keep_until_uses_the_configured_default(
    seeded_simulator, operator_client: Client, settings
) -> None:
    settings.SNAPSHOT_DEFAULT_KEEP_DAYS = 14

    response = operator_client.post(f"/servers/{WEB}/snapshots/", {"name": "scripted"})

    assert response.status_code == 302
    operation = Operation.objects.get(kind=OperationKind.CREATE)
    assert timedelta(days=13) < operation.keep_until - timezone.now() <= timedelta(days=14)


def test_a_keep_until_that_is_not_offered_is_refused_and_the_name_kept(
    seeded_simulator, operator_client: Client
) -> None:
    response = operator_client.post(
        f"/servers/{WEB}/snapshots/", {"name": "typed-by-hand", "keep_days": "9999"}
    )

    assert response.status_code == 400
    assert "Select a valid choice" in field_block(response, "id_keep_days")
    assert 'value="typed-by-hand"' in response.content.decode()
    assert provider_calls(CREATE_CALL) == 0


def test_every_row_shows_when_it_goes_and_it_can_be_changed(
    seeded_simulator, operator_client: Client
) -> None:
    response = operator_client.post(f"/snapshots/{NEWEST}/keep/", {"keep_days": "30"}, follow=True)

    assert "how long it is kept was changed" in page_text(response)
    record = SnapshotRecord.objects.get(snapshot_id=NEWEST)
    assert timedelta(days=29) < record.keep_until - timezone.now() <= timedelta(days=30)
    row = re.search(rf'<tr id="snapshot-{NEWEST}">.*?</tr>', response.content.decode(), re.S)[0]
    assert f'datetime="{record.keep_until.isoformat()}"' in row
    older = re.search(rf'<tr id="snapshot-{OLDER}">.*?</tr>', response.content.decode(), re.S)[0]
    assert "until deleted" in older


def test_a_wrong_keep_choice_changes_nothing_and_says_so(
    seeded_simulator, operator_client: Client
) -> None:
    response = operator_client.post(f"/snapshots/{NEWEST}/keep/", {"keep_days": "x"}, follow=True)

    assert "Choose how long to keep the snapshot; nothing was changed." in page_text(response)
    assert not SnapshotRecord.objects.filter(snapshot_id=NEWEST).exists()


# --- Protection ---------------------------------------------------------------------------------


def test_an_operator_protects_and_then_nobody_is_offered_its_delete(
    seeded_simulator, operator_client: Client, admin_user
) -> None:
    response = operator_client.post(f"/snapshots/{NEWEST}/protect/", follow=True)

    assert "is protected: nobody can delete it until an Admin lifts the protection" in page_text(
        response
    )
    page = logged_in(admin_user).get(f"/servers/{WEB}/").content.decode()
    row = re.search(rf'<tr id="snapshot-{NEWEST}">.*?</tr>', page, re.S)[0]
    assert f'href="/snapshots/{NEWEST}/delete/"' not in row
    assert "Protected: nobody can delete it until an Admin lifts the protection." in row
    assert f'action="/snapshots/{NEWEST}/unprotect/"' in row
    assert 'name="ids"' not in row  # not offered for a bulk delete either


def test_the_delete_page_of_a_protected_snapshot_refuses(
    seeded_simulator, admin_client: Client, operator
) -> None:
    protect(NEWEST, operator)

    response = admin_client.post(f"/snapshots/{NEWEST}/delete/", follow=True)

    assert "is protected; an Admin must lift the protection before it is deleted" in page_text(
        response
    )
    assert SimSnapshot.objects.filter(pk=NEWEST).exists()
    assert provider_calls(DELETE_CALL) == 0


def test_only_an_admin_lifts_a_protection(
    seeded_simulator, operator_client: Client, admin_user, operator
) -> None:
    protect(NEWEST, operator)

    assert operator_client.post(f"/snapshots/{NEWEST}/unprotect/").status_code == 403
    assert SnapshotRecord.objects.get(snapshot_id=NEWEST).protected

    logged_in(admin_user).post(f"/snapshots/{NEWEST}/unprotect/")
    assert not SnapshotRecord.objects.get(snapshot_id=NEWEST).protected


def test_a_vanished_protected_snapshot_is_shown_on_its_server(
    seeded_simulator, viewer_client: Client, operator
) -> None:
    protect(OLDER, operator)
    SnapshotRecord.objects.filter(snapshot_id=OLDER).update(gone_at=timezone.now())

    text = visible_text(viewer_client.get(f"/servers/{WEB}/"))

    assert "The protected snapshot weekly-snapshot-" in text
    assert "is no longer listed by the provider" in text


# --- Slots and 5 of 5 ---------------------------------------------------------------------------


def test_the_server_page_shows_each_slot_by_what_holds_it(
    seeded_simulator, viewer_client: Client, operator
) -> None:
    protect(785, operator)
    lifecycle.snapshot_keep_until_set(actor=Actor(user=operator, ip=None), snapshot_id=786,
                                      days=7)  # fmt: skip

    page = viewer_client.get(f"/servers/{FULL}/").content.decode()

    slots = re.search(r'<span class="slots"[^>]*aria-label="([^"]+)"', page)[1]
    assert slots == "manual, manual, manual, expiring, protected"  # newest first, as the rows
    fleet = viewer_client.get("/").content.decode()
    assert "slots slots-compact" in fleet


def test_at_five_of_five_the_form_offers_to_replace_the_oldest_unprotected(
    seeded_simulator, operator_client: Client, operator
) -> None:
    protect(785, operator)

    page = operator_client.get(f"/servers/{FULL}/")

    assert "replace the oldest unprotected snapshot, weekly-snapshot-" in visible_text(page)
    assert 'name="replace_snapshot" value="786"' in page.content.decode()


def test_replacing_the_oldest_is_one_delete_then_create_workflow(
    seeded_simulator, operator_client: Client, settings
) -> None:
    settings.VPS_SIM_CREATE_SECONDS = 3600

    response = operator_client.post(
        f"/servers/{FULL}/snapshots/", {"name": "before-upgrade", "replace_snapshot": "785"},
        follow=True,
    )  # fmt: skip

    assert "The oldest snapshot is being replaced by “before-upgrade”." in page_text(response)
    workflow = Workflow.objects.get()
    assert workflow.kind == WorkflowKind.REPLACE_OLDEST
    assert [(s.action, s.state) for s in workflow.steps.all()] == [
        ("delete", "done"), ("create", "running")
    ]  # fmt: skip
    assert not SimSnapshot.objects.filter(pk=785).exists()
    assert SimSnapshot.objects.filter(server_id=FULL, name="before-upgrade").exists()
    assert 'id="workflow-' in response.content.decode()  # its steps on the server page


def test_when_the_oldest_changed_since_the_page_was_shown_nothing_is_deleted(
    seeded_simulator, operator_client: Client, operator
) -> None:
    protect(785, operator)  # after the page offered 785

    response = operator_client.post(
        f"/servers/{FULL}/snapshots/", {"name": "before-upgrade", "replace_snapshot": "785"}
    )

    assert response.status_code == 400
    assert "The oldest unprotected snapshot is now" in page_text(response)
    assert 'value="before-upgrade"' in response.content.decode()
    assert provider_calls(DELETE_CALL) == 0
    assert not Workflow.objects.exists()


# --- Deleting many ------------------------------------------------------------------------------


def test_deleting_several_asks_for_the_count_typed_and_lists_each(
    seeded_simulator, admin_client: Client, operator
) -> None:
    protect(786, operator)

    page = admin_client.get("/snapshots/delete/?ids=785&ids=786&ids=788")

    text = visible_text(page)
    assert "2 snapshots will be deleted." in text
    assert "db-replica" in text
    assert "1 protected snapshot is left out:" in text
    assert "Type delete 2 snapshots to confirm" in text
    sizes = SimSnapshot.objects.filter(pk__in=[785, 788]).values_list("size_mb", flat=True)
    assert f"{sum(sizes) / 1024:.1f} GB" in text  # the total

    wrong = admin_client.post("/snapshots/delete/", {"ids": ["785", "788"], "confirm": "yes"})
    assert wrong.status_code == 400
    assert "Type “delete 2 snapshots” exactly to confirm." in page_text(wrong)
    assert 'value="yes"' in wrong.content.decode()  # what was typed is kept
    assert provider_calls(DELETE_CALL) == 0

    done = admin_client.post(
        "/snapshots/delete/", {"ids": ["785", "788"], "confirm": "delete 2 snapshots"}
    )
    assert "2 snapshots deleted" in page_text(done)
    assert not SimSnapshot.objects.filter(pk__in=[785, 788]).exists()
    assert Operation.objects.filter(kind=OperationKind.DELETE).count() == 2


def test_finding_snapshots_across_the_fleet_by_age_and_name(
    seeded_simulator, admin_client: Client
) -> None:
    page = admin_client.get("/snapshots/delete/?older_than_days=20&name_contains=WEEKLY")

    text = visible_text(page)
    assert "3 snapshots will be deleted." in text  # 785, 786 and 788 of db-replica
    assert "Type delete 3 snapshots to confirm" in text


def test_a_wrong_filter_is_explained_and_finds_nothing(
    seeded_simulator, admin_client: Client
) -> None:
    page = admin_client.get("/snapshots/delete/?older_than_days=a+month&name_contains=weekly")

    assert page.status_code == 200
    text = page_text(page)
    assert "Give the age as a whole number of days, e.g. 30." in text
    assert 'value="weekly"' in page.content.decode()
    assert "0 snapshots will be deleted." in text


# --- The activity ----------------------------------------------------------------------------


def test_protection_and_keep_changes_are_lifecycle_events_in_the_activity_and_its_csv(
    seeded_simulator, operator, viewer_client: Client
) -> None:
    as_operator = logged_in(operator)
    as_operator.post(f"/snapshots/{NEWEST}/protect/")
    as_operator.post(f"/snapshots/{OLDER}/keep/", {"keep_days": "1"})

    page = visible_text(viewer_client.get("/activity/?kind=lifecycle"))
    assert "omar Protected web-server-01 pre-migration-snapshot" in page
    assert "omar Keep-until changed web-server-01 weekly-snapshot-" in page
    rows = csv_rows(viewer_client.get("/activity.csv?kind=lifecycle"))
    assert rows[0] == ["time", "who", "event", "server_id", "server", "subject", "detail"]
    assert {(r[1], r[2], r[3]) for r in rows[1:]} == {
        ("omar", "snapshot.protected", str(WEB)),
        ("omar", "snapshot.keep_until.changed", str(WEB)),
    }
