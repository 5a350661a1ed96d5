"""The schedule planner, without a database: timetables across daylight-saving changes, the
catch-up after downtime, what a run deletes under the cap, retention, the two-week preview."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapshots_ui.schedule_plan import (
    Slot,
    Timetable,
    TimetableError,
    catch_up,
    occurrences,
    preview,
    retention_deletions,
    run_decision,
    server_matches,
    snapshot_name,
    spread,
    timetable_check,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def local_times(timetable: Timetable, after: datetime, count: int, zone: ZoneInfo) -> list[str]:
    moments = occurrences(timetable, after=after)
    return [next(moments).astimezone(zone).strftime("%m-%d %H:%M %Z") for _ in range(count)]


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [(BERLIN, datetime(2026, 3, 28, 12), datetime(2026, 10, 24, 12)),
     (NEW_YORK, datetime(2026, 3, 7, 12), datetime(2026, 10, 31, 12))],
)  # fmt: skip
def test_a_nightly_run_in_the_skipped_or_repeated_hour_happens_once(zone, spring, autumn) -> None:
    nightly = Timetable(cron="30 2 * * *", time_zone=str(zone))

    springs = local_times(nightly, spring.replace(tzinfo=zone), 3, zone)
    autumns = local_times(nightly, autumn.replace(tzinfo=zone), 3, zone)

    assert len(set(springs)) == 3  # one run each night, none doubled
    assert springs[0].split()[1] == "03:00"  # 02:30 did not exist: right after the gap
    assert [t.split()[1] for t in springs[1:]] == ["02:30", "02:30"]
    assert [t.split()[1] for t in autumns] == ["02:30", "02:30", "02:30"]  # the repeated hour once
    days = [t.split()[0] for t in autumns]
    assert len(set(days)) == 3


def test_an_interval_counts_real_time_across_a_daylight_saving_change() -> None:
    anchor = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    every_hour = Timetable(interval_minutes=60, time_zone="Europe/Berlin", anchor_at=anchor)

    moments = occurrences(every_hour, after=anchor)
    first_four = [next(moments) for _ in range(4)]

    assert [b - a for a, b in itertools.pairwise(first_four)] == [timedelta(hours=1)] * 3


def test_bad_timetables_are_refused_with_a_reason() -> None:
    with pytest.raises(TimetableError, match="Not a cron expression"):
        timetable_check(Timetable(cron="61 * * * *"))
    with pytest.raises(TimetableError, match="Unknown time zone"):
        timetable_check(Timetable(cron="0 2 * * *", time_zone="Mars/Olympus"))
    with pytest.raises(TimetableError, match="either"):
        timetable_check(Timetable(cron="0 2 * * *", interval_minutes=60))


def test_after_downtime_one_recent_run_catches_up_and_older_ones_are_missed() -> None:
    hourly = Timetable(cron="0 * * * *")
    down_since = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)

    shortly = catch_up(
        hourly, planned_until=down_since, now=datetime(2026, 5, 1, 12, 10, tzinfo=UTC)
    )
    too_late = catch_up(
        hourly, planned_until=down_since, now=datetime(2026, 5, 1, 12, 40, tzinfo=UTC)
    )

    assert shortly.due == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)  # 10 min late: runs once
    assert shortly.missed == [datetime(2026, 5, 1, h, 0, tzinfo=UTC) for h in (10, 11)]
    assert too_late.due is None  # 40 min late for an hourly run: recorded as missed
    assert len(too_late.missed) == 3


def test_nothing_due_before_the_next_moment() -> None:
    caught = catch_up(
        Timetable(cron="0 3 * * *"),
        planned_until=datetime(2026, 5, 1, 3, 0, tzinfo=UTC),
        now=datetime(2026, 5, 1, 20, 0, tzinfo=UTC),
    )
    assert caught.due is None
    assert caught.missed == []


def slot(n: int, *, schedule: int | None = None, protected: bool = False, day: int = 1) -> Slot:
    return Slot(snapshot_id=n, name=f"s{n}", created_at=datetime(2026, 5, day, tzinfo=UTC),
                schedule_id=schedule, protected=protected)  # fmt: skip


def test_a_run_creates_when_a_slot_is_free() -> None:
    assert run_decision([slot(1), slot(2)], limit=5, schedule_id=7).action == "create"


def test_at_the_cap_a_run_rotates_its_own_oldest_first() -> None:
    slots = [slot(1, day=1), slot(2, schedule=7, day=3), slot(3, schedule=7, day=2),
             slot(4, schedule=8, day=1), slot(5, schedule=7, protected=True, day=1)]  # fmt: skip

    decision = run_decision(slots, limit=5, schedule_id=7)

    assert decision.action == "rotate"
    assert decision.delete == slots[2]  # its own, unprotected, oldest: not 1, 4 or 5


def test_at_the_cap_with_nothing_of_its_own_a_run_skips_and_says_why() -> None:
    slots = [slot(n) for n in range(1, 4)] + [
        slot(4, schedule=8),
        slot(5, schedule=7, protected=True),
    ]

    decision = run_decision(slots, limit=5, schedule_id=7)

    assert decision.action == "skip"
    assert "manual, protected or another schedule's" in decision.reason


def test_retention_keeps_the_newest_n_and_the_recent_days() -> None:
    now = datetime(2026, 5, 20, tzinfo=UTC)
    slots = [slot(n, schedule=7, day=n) for n in range(1, 5)] + [slot(9, day=1)]

    by_count = retention_deletions(slots, schedule_id=7, keep_newest=2, keep_days=None, now=now)
    by_age = retention_deletions(slots, schedule_id=7, keep_newest=None, keep_days=17, now=now)

    assert [s.snapshot_id for s in by_count] == [2, 1]
    assert [s.snapshot_id for s in by_age] == [2, 1]  # older than 17 days; never the manual 9


def test_the_preview_shows_rotation_skips_and_slots_used() -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    nightly = Timetable(cron="0 1 * * *")
    slots = [slot(1), slot(2), slot(3)]

    runs = preview(nightly, slots, schedule_id=7, limit=5, keep_newest=None, keep_days=None,
                   start=start, days=4)  # fmt: skip
    full = preview(nightly, [slot(n) for n in range(1, 6)], schedule_id=7, limit=5,
                   keep_newest=None, keep_days=None, start=start, days=2)  # fmt: skip

    assert [(r.action, r.used_after) for r in runs] == [
        ("create", 4),
        ("create", 5),
        ("rotate", 5),
        ("rotate", 5),
    ]
    assert runs[2].deleted == (snapshot_name("scheduled", runs[0].at),)  # the first run's
    assert [r.action for r in full] == ["skip", "skip"]


def test_patterns_and_spread() -> None:
    assert server_matches("web-*", "Web-Server-01")
    assert not server_matches("web-*", "db-primary")
    window = timedelta(minutes=30)
    offsets = [spread(n, 1000, window=window) for n in range(1000)]
    assert offsets[0] == timedelta(0)
    assert all(timedelta(0) <= o < window / 2 for o in offsets)
    gaps = {later - earlier for earlier, later in itertools.pairwise(offsets)}
    assert gaps == {window / 2 / 1000}  # evenly: never two servers at one moment


slots_strategy = st.lists(
    st.builds(
        Slot,
        snapshot_id=st.integers(1, 10_000),
        name=st.just("x"),
        created_at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 1),
                                timezones=st.just(UTC)),
        schedule_id=st.sampled_from([None, 7, 8]),
        protected=st.booleans(),
    ),
    max_size=5,
    unique_by=lambda s: s.snapshot_id,
)  # fmt: skip


@given(slots=slots_strategy, keep_newest=st.none() | st.integers(1, 5))
def test_no_run_deletes_a_manual_protected_or_other_schedules_snapshot(slots, keep_newest) -> None:
    decision = run_decision(slots, limit=5, schedule_id=7)
    doomed = [decision.delete] if decision.delete else []
    doomed += retention_deletions(
        slots,
        schedule_id=7,
        keep_newest=keep_newest,
        keep_days=3,
        now=datetime(2026, 12, 2, tzinfo=UTC),
    )

    assert all(s.schedule_id == 7 and not s.protected for s in doomed)


@given(slots=slots_strategy)
def test_no_run_takes_a_server_past_its_limit(slots) -> None:
    runs = preview(Timetable(interval_minutes=720), slots, schedule_id=7, limit=5, keep_newest=None,
                   keep_days=None, start=datetime(2026, 12, 2, tzinfo=UTC), days=5)  # fmt: skip

    assert all(run.used_after <= 5 for run in runs)
