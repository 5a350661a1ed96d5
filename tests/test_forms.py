"""The dashboard's forms on their own: naming rule, restore confirmation, activity filters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapshots_ui.forms import (
    ACCOUNT_EVENTS,
    LIFECYCLE_EVENTS,
    ActivityFilterForm,
    RestoreConfirmForm,
    SnapshotCreateForm,
    suggested_snapshot_name,
)
from snapshots_ui.models import OperationKind
from snapshots_ui.provider import Server, ServerRef, Snapshot
from snapshots_ui.safe_restore import RestorePlan
from snapshots_ui.selectors import ServerSummary
from snapshots_ui.services import SNAPSHOT_NAME_MAX_LENGTH, snapshot_name_error
from snapshots_ui.statuses import OperationState

# --- The suggested snapshot name ------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_name", "stem"),
    [
        ("web-server-01", "web-server-01"),
        ("db primary", "db-primary"),
        ("a.b_c", "a-b_c"),
        ("--edge--", "edge"),
        ("сервер", "server"),  # nothing ASCII is left
        ("", "server"),
        ("x" * 200, "x" * 40),
    ],
)
def test_suggested_name_follows_the_naming_rule(server_name: str, stem: str) -> None:
    suggested = suggested_snapshot_name(server_name)

    assert suggested.startswith(f"{stem}-")
    assert snapshot_name_error(suggested) is None
    assert len(suggested) <= SNAPSHOT_NAME_MAX_LENGTH


# --- Creating a snapshot --------------------------------------------------------------------


def test_create_form_accepts_a_valid_name_and_trims_it() -> None:
    form = SnapshotCreateForm({"name": "  pre-upgrade_2  ", "description": " why "})

    assert form.is_valid(), form.errors
    assert form.cleaned_data == {
        "name": "pre-upgrade_2", "description": "why", "keep_days": 0, "replace_snapshot": None
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("has space", "no spaces"),
        ("x" * 65, "Use at most 64 characters (this name has 65)."),
        ("x" * 300, "Use at most 64 characters (this name has 300)."),
        ("../etc", "Use only letters A-Z"),
        ("naïve", "Use only letters A-Z"),
        ("bаckup", "Use only letters A-Z"),  # Cyrillic а
        ("snap\n", None),  # a trailing newline is trimmed, not smuggled through
    ],
)
def test_create_form_names(name: str, message: str | None) -> None:
    form = SnapshotCreateForm({"name": name})

    if message is None:
        assert form.is_valid(), form.errors
        assert form.cleaned_data["name"] == "snap"
    else:
        assert not form.is_valid()
        assert any(message in error for error in form.errors["name"])


def test_create_form_limits_the_description() -> None:
    form = SnapshotCreateForm({"name": "ok", "description": "d" * 256})

    assert not form.is_valid()
    assert list(form.errors) == ["description"]


# --- Confirming a restore -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "valid"),
    [
        ("web-server-01", True),
        ("  web-server-01 ", True),
        ("WEB-SERVER-01", False),
        ("web-server-0", False),
        ("web-server-01x", False),
        ("", False),
    ],
)
def test_restore_needs_the_exact_server_name(typed: str, valid: bool) -> None:
    form = RestoreConfirmForm(
        {"confirm_name": typed, "safety": "skip"}, plan=restore_plan_for("web-server-01")
    )

    assert form.is_valid() is valid
    if not valid and typed:
        assert form.errors["confirm_name"] == [
            "That is not the server's name. Type “web-server-01” exactly to confirm."
        ]


# --- Activity filters -----------------------------------------------------------------------


def test_activity_filters_offer_every_kind_and_state() -> None:
    form = ActivityFilterForm()

    assert [value for value, _ in form.fields["kind"].choices] == [
        "",
        *OperationKind.values,
        LIFECYCLE_EVENTS,
        ACCOUNT_EVENTS,
    ]
    assert [value for value, _ in form.fields["state"].choices] == ["", *OperationState.values]


def test_activity_filters_clean_valid_values() -> None:
    form = ActivityFilterForm({"q": " web ", "kind": "restore", "state": "failed", "server": "7"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"q": "web", "kind": "restore", "state": "failed", "server": 7}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "bogus"}, "kind"),
        ({"state": "exploded"}, "state"),
        ({"server": "abc"}, "server"),
        ({"server": "0"}, "server"),
        ({"server": str(2**63)}, "server"),
        ({"q": "q" * 101}, "q"),
    ],
)
def test_activity_filters_report_wrong_values(data: dict[str, str], field: str) -> None:
    form = ActivityFilterForm(data)

    assert not form.is_valid()
    assert list(form.errors) == [field]


def server_options(form: ActivityFilterForm) -> list[tuple[object, str]]:
    return [(value, str(label)) for value, label in form.fields["server"].widget.choices]


def test_activity_filters_offer_the_servers_by_name() -> None:
    form = ActivityFilterForm()
    form.offer_servers([(12350, "db-primary"), (1, "twin"), (2, "twin")])

    assert server_options(form) == [
        ("", "Any server"), (12350, "db-primary"), (1, "twin (#1)"), (2, "twin (#2)"),
    ]  # fmt: skip


def test_a_server_id_the_list_does_not_name_is_kept() -> None:
    form = ActivityFilterForm({"server": "777"})
    assert form.is_valid()

    form.offer_servers([(12350, "db-primary")])

    assert server_options(form)[-1] == (777, "Server #777")
    assert 'value="777" selected' in str(form["server"])


@pytest.mark.parametrize("value", ["abc", "0", "-1", str(2**63)])
def test_a_wrong_server_is_explained(value: str) -> None:
    form = ActivityFilterForm({"server": value})

    assert not form.is_valid()
    assert form.errors["server"] == [
        "That is not a server the dashboard knows; choose one from the list."
    ]


# --- Any input at all -----------------------------------------------------------------------

ANY_TEXT = st.text(max_size=400)


@given(name=ANY_TEXT, description=ANY_TEXT)
def test_the_create_form_never_crashes_and_accepts_only_the_providers_names(
    name: str, description: str
) -> None:
    form = SnapshotCreateForm({"name": name, "description": description})

    if form.is_valid():
        cleaned = form.cleaned_data["name"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cleaned)
        assert len(form.cleaned_data["description"]) <= 255
    else:
        assert form.errors  # a reason for the user, never an exception


@given(confirmation=ANY_TEXT)
def test_the_restore_confirmation_accepts_only_the_exact_server_name(confirmation: str) -> None:
    form = RestoreConfirmForm(
        {"confirm_name": confirmation, "safety": "skip"}, plan=restore_plan_for("web-server-01")
    )

    assert form.is_valid() == (confirmation.strip() == "web-server-01")


def restore_plan_for(server_name: str, *, snapshots: int = 1) -> RestorePlan:
    """A restore plan for a server with ``snapshots`` snapshots (5: no free slot)."""
    made = [
        Snapshot(
            id=800 + n,
            server=ServerRef(id=1, name=server_name),
            name=f"s{n}",
            status="completed",
            size_mb=1,
            created_at=None,
            description="",
        )
        for n in range(snapshots)
    ]
    summary = ServerSummary(server=Server(id=1, name=server_name, status="running"), snapshots=made)
    return RestorePlan(
        fleet=None, summary=summary, snapshot=made[0], safety_name="safety", replaceable=None
    )  # type: ignore[arg-type]


def test_a_restore_with_a_free_slot_takes_a_safety_snapshot_unless_told_otherwise() -> None:
    form = RestoreConfirmForm(plan=restore_plan_for("web"))

    assert form.fields["safety"].initial == "take"
    assert [value for value, _label in form.fields["safety"].choices] == ["take", "skip"]


def test_at_five_of_five_the_person_must_choose_and_what_they_typed_stays() -> None:
    form = RestoreConfirmForm({"confirm_name": "web"}, plan=restore_plan_for("web", snapshots=5))

    assert not form.is_valid()
    assert form.errors["safety"] == ["Choose whether to take a safety snapshot first."]
    assert form["confirm_name"].value() == "web"
    # Nothing may be replaced here (no snapshot is disposable): only going on without one.
    assert [value for value, _label in form.fields["safety"].choices] == ["skip"]


def test_a_choice_not_offered_is_refused_with_a_sentence() -> None:
    form = RestoreConfirmForm(
        {"confirm_name": "web", "safety": "take"}, plan=restore_plan_for("web", snapshots=5)
    )

    assert form.errors["safety"] == [
        "That choice is not offered for this server any more; choose again."
    ]
