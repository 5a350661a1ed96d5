"""The schedule pages: the list, the form with its 14-day preview (nothing saved until asked),
mistakes said next to their field with what was typed kept, pause and resume, and the marks
on the fleet and server pages."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.test import Client
from django.utils import timezone

from provider_sim.seed import seed_bulk
from snapshots_ui.fleet_cache import fleet_refresh
from snapshots_ui.models import AuditEvent, RunState, Schedule, ScheduleRun
from tests.factories import ScheduleFactory
from tests.views.helpers import REPLICA, WEB, field_block, fleet_rows, visible_text

FULL = REPLICA  # db-replica: 5 of 5 manual snapshots

NIGHTLY = {
    "name": "web nightly",
    "target_kind": "pattern",
    "server_pattern": "web-*",
    "timetable_kind": "cron",
    "cron": "30 2 * * *",
    "time_zone": "Europe/Berlin",
    "keep_newest": "3",
    "keep_days": "",
    "window_minutes": "30",
    "description_template": "{schedule} of {server} on {date}",
}


def test_the_preview_shows_the_next_two_weeks_and_saves_nothing(
    seeded_simulator, operator_client: Client
) -> None:
    response = operator_client.post("/schedules/new/", {**NIGHTLY, "preview": "1"})

    assert response.status_code == 200
    text = visible_text(response)
    # Nightly for 14 days on both; keeping its newest 3, each of its runs from the 4th on
    # deletes one of its own: 11 on each server.
    assert "On 2 servers: 28 snapshots taken, 22 deleted by rotation or retention." in text
    assert "Times in Europe/Berlin." in text
    assert text.index("web-server-01 When") < text.index("web-server-02 When")
    assert text.count(", 02:30 ") == 28  # local times, as the timetable says
    assert "Delete its oldest, then snapshot web-nightly-2" in text  # the name it would take
    assert not Schedule.objects.exists()


def test_the_preview_warns_of_runs_that_would_be_skipped(
    seeded_simulator, operator_client: Client
) -> None:
    form = {**NIGHTLY, "server_pattern": "db-replica", "preview": "1"}

    text = visible_text(operator_client.post("/schedules/new/", form))

    assert "14 runs would be skipped." in text
    assert "no slot can be freed" in text


def test_saving_a_schedule_records_it_and_sets_its_next_run(
    seeded_simulator, operator_client: Client
) -> None:
    response = operator_client.post("/schedules/new/", {**NIGHTLY, "save": "1"}, follow=True)

    assert "Schedule “web nightly” saved." in visible_text(response)
    schedule = Schedule.objects.get()
    assert (schedule.server_pattern, schedule.cron, schedule.time_zone) == (
        "web-*", "30 2 * * *", "Europe/Berlin"
    )  # fmt: skip
    local = schedule.next_run_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (2, 30)
    assert AuditEvent.objects.get(action="schedule.created").actor_name == "omar"
    assert "web nightly" in visible_text(operator_client.get("/schedules/"))


def test_mistakes_are_said_next_to_their_field_and_what_was_typed_is_kept(
    seeded_simulator, operator_client: Client
) -> None:
    form = {**NIGHTLY, "cron": "every night", "keep_newest": "9",
            "description_template": "{hostname}", "save": "1"}  # fmt: skip

    response = operator_client.post("/schedules/new/", form)

    assert response.status_code == 400
    assert "Not a cron expression" in field_block(response, "id_cron")
    assert 'value="every night"' in field_block(response, "id_cron")
    assert "From 1 to 5" in visible_text(response)
    assert "Unknown placeholder {hostname}" in visible_text(response)
    assert "Correct the form to see what the schedule would do." in visible_text(response)
    assert not Schedule.objects.exists()


def test_one_server_needs_a_server_and_a_pattern_needs_a_pattern(
    seeded_simulator, operator_client: Client
) -> None:
    one = operator_client.post(
        "/schedules/new/", {**NIGHTLY, "target_kind": "server", "server_id": "", "save": "1"}
    )
    many = operator_client.post("/schedules/new/", {**NIGHTLY, "server_pattern": "", "save": "1"})

    assert "Choose the server." in field_block(one, "id_server_id")
    assert "Give a pattern, e.g. web-*." in field_block(many, "id_server_pattern")


def test_pausing_and_resuming_are_recorded_and_resume_waits_for_the_next_moment(
    seeded_simulator, operator_client: Client
) -> None:
    schedule = ScheduleFactory(interval_minutes=60, cron="")

    operator_client.post(f"/schedules/{schedule.pk}/pause/", {"action": "pause"})
    schedule.refresh_from_db()
    assert schedule.paused
    assert schedule.next_run_at is None
    response = operator_client.post(
        f"/schedules/{schedule.pk}/pause/", {"action": "resume"}, follow=True
    )

    assert "its next run is at its next time, not now" in visible_text(response)
    schedule.refresh_from_db()
    assert schedule.next_run_at - timezone.now() > timedelta(minutes=59)
    actions = AuditEvent.objects.filter(action__startswith="schedule.").values_list(
        "action", flat=True
    )
    assert sorted(actions) == ["schedule.paused", "schedule.resumed"]


def test_the_list_marks_a_stale_schedule(seeded_simulator, viewer_client: Client) -> None:
    ScheduleFactory(name="hourly", interval_minutes=60, cron="",
                    created_at=timezone.now() - timedelta(hours=5))  # fmt: skip

    text = visible_text(viewer_client.get("/schedules/"))

    assert "hourly Stale" in text


def test_a_skipped_run_is_red_on_the_fleet_and_server_pages(
    seeded_simulator, viewer_client: Client
) -> None:
    schedule = ScheduleFactory(server_id=FULL, name="db nightly")
    now = timezone.now()
    ScheduleRun.objects.create(
        schedule=schedule, server_id=FULL, server_name="db-replica", due_at=now,
        start_after=now, deadline=now, state=RunState.SKIPPED, finished_at=now,
        reason="All 5 slots hold snapshots this schedule may not delete.",
    )  # fmt: skip

    fleet = fleet_rows(viewer_client.get("/"))
    server = visible_text(viewer_client.get(f"/servers/{FULL}/"))

    assert "Scheduled snapshot skipped (“ db nightly ”)" in " ".join(fleet[FULL].split())
    assert "Scheduled snapshot skipped" not in fleet[WEB]
    assert "Scheduled snapshot skipped: “db nightly” did not run" in server
    assert "All 5 slots hold snapshots this schedule may not delete." in server


def test_the_fleet_warns_ahead_of_a_run_that_will_be_skipped(
    seeded_simulator, viewer_client: Client
) -> None:
    ScheduleFactory(server_id=FULL, name="db nightly")

    fleet = fleet_rows(viewer_client.get("/"))

    assert re.search(r"“ db nightly ” will skip \d+ hours from now", " ".join(fleet[FULL].split()))
    server = visible_text(viewer_client.get(f"/servers/{FULL}/"))
    assert "The next run of “db nightly”" in server
    assert "will be skipped as things stand" in server


def test_the_preview_warns_when_the_budget_cannot_start_every_run_in_its_window(
    seeded_simulator, operator_client: Client, settings
) -> None:
    seed_bulk(60, 1)
    fleet_refresh()  # every page of the lists read
    settings.VPS_API_RATE_LIMIT = 12  # 9 a minute in the background, half of it for runs
    form = {**NIGHTLY, "server_pattern": "srv-*", "window_minutes": "10", "preview": "1"}

    text = visible_text(operator_client.post("/schedules/new/", form))

    assert "Starting the runs on 60 servers takes about 14 minutes of the provider budget, " \
        "longer than the 10-minute window" in text  # fmt: skip
    assert "40 more servers, counted in the totals above." in text  # 20 of 60 shown


def test_no_budget_warning_when_the_window_is_wide_enough(
    seeded_simulator, operator_client: Client, settings
) -> None:
    settings.VPS_API_RATE_LIMIT = 12
    text = visible_text(operator_client.post("/schedules/new/", {**NIGHTLY, "preview": "1"}))

    assert "On 2 servers" in text
    assert "of the provider budget" not in text
