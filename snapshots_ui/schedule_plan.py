"""What a schedule does, worked out without touching anything: when it runs, what a run does
on a server under the 5-slot cap, what it deletes to keep its retention, what the next two
weeks look like. ``schedules`` carries it out.

Times are UTC; a schedule's timetable is read in its own time zone with ``zoneinfo``, so a
daylight-saving change neither doubles nor drops a run (cron expressions through ``cronsim``,
which runs a job in a skipped hour once, right after the gap, and a repeated hour once).
Intervals count in real time from the schedule's anchor.
"""

from __future__ import annotations

import fnmatch
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Timetable:
    cron: str = ""
    interval_minutes: int | None = None
    time_zone: str = "UTC"
    anchor_at: datetime | None = None


class TimetableError(ValueError):
    """The expression cannot be read; the message says why."""


DESCRIPTION_FIELDS = ("server", "schedule", "date")


def description_error(template: str) -> str:
    """Why a description template cannot be filled in ("" when it can)."""
    try:
        names = {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}
    except ValueError:
        return _("Write { and } only around server, schedule or date; write {{ for a brace.")
    unknown = sorted(names - set(DESCRIPTION_FIELDS))
    if unknown:
        return _("Unknown placeholder {%(name)s}: use {server}, {schedule} or {date}.") % {
            "name": unknown[0]
        }
    return ""


def description_for(template: str, **values: str) -> str:
    """The template filled in; a template that cannot be (saved before it was checked) is
    used as it is written."""
    if description_error(template):
        return template
    return template.format_map({name: values.get(name, "") for name in DESCRIPTION_FIELDS})


def timetable_check(timetable: Timetable) -> None:
    """Raise ``TimetableError`` for a timetable that cannot run."""
    if bool(timetable.cron) == bool(timetable.interval_minutes):
        raise TimetableError(_("Give either a cron expression or an interval, not both."))
    try:
        ZoneInfo(timetable.time_zone)
    except (KeyError, ValueError) as exc:
        raise TimetableError(
            _("Unknown time zone: %(zone)s") % {"zone": timetable.time_zone}
        ) from exc
    if timetable.cron:
        try:
            CronSim(timetable.cron, datetime.now(tz=UTC))
        except CronSimError as exc:
            raise TimetableError(_("Not a cron expression: %(why)s") % {"why": exc}) from exc


def occurrences(timetable: Timetable, *, after: datetime) -> Iterator[datetime]:
    """The timetable's moments strictly after ``after``, in UTC, for ever."""
    if timetable.cron:
        local = after.astimezone(ZoneInfo(timetable.time_zone))
        for moment in CronSim(timetable.cron, local):
            yield moment.astimezone(UTC)
        return
    assert timetable.interval_minutes
    step = timedelta(minutes=timetable.interval_minutes)
    anchor = timetable.anchor_at or after
    moment = anchor if anchor > after else anchor + (int((after - anchor) / step) + 1) * step
    while True:
        yield moment
        moment += step


def next_occurrence(timetable: Timetable, *, after: datetime) -> datetime:
    return next(occurrences(timetable, after=after))


def period(timetable: Timetable, *, around: datetime) -> timedelta:
    """The time between two runs (for a cron expression, the next two)."""
    if timetable.interval_minutes:
        return timedelta(minutes=timetable.interval_minutes)
    moments = occurrences(timetable, after=around)
    first = next(moments)
    return next(moments) - first


@dataclass(frozen=True)
class CatchUp:
    due: datetime | None  # the one occurrence to run now, if any
    missed: list[datetime]  # older ones, recorded as missed


def catch_up(timetable: Timetable, *, planned_until: datetime, now: datetime) -> CatchUp:
    """The occurrences between the last one planned and now: the newest runs once if it is
    less than half a period late; every other one is missed (never run many times)."""
    passed: list[datetime] = []
    for moment in occurrences(timetable, after=planned_until):
        if moment > now or len(passed) > 10_000:
            break
        passed.append(moment)
    if not passed:
        return CatchUp(due=None, missed=[])
    newest = passed[-1]
    if now - newest <= period(timetable, around=newest) / 2:
        return CatchUp(due=newest, missed=passed[:-1])
    return CatchUp(due=None, missed=passed)


def snapshot_name(schedule_name: str, due_at: datetime) -> str:
    """The name of the snapshot a schedule's run due at ``due_at`` takes (UTC in the name:
    the same whoever reads it)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", schedule_name).strip("-")[:40] or "scheduled"
    return f"{stem}-{due_at.astimezone(UTC):%Y%m%d-%H%M}"


def server_matches(pattern: str, name: str) -> bool:
    """``web-*`` style patterns, case-insensitive."""
    return fnmatch.fnmatchcase(name.casefold(), pattern.casefold())


def spread(position: int, count: int, *, window: timedelta) -> timedelta:
    """The offset of the ``position``-th of ``count`` runs due at one moment: evenly over the
    first half of the window, so that many servers do not reach the provider at once and a
    run that has to wait still has the second half."""
    return window / 2 * (position / max(1, count))


# --- One run on one server ------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One of a server's snapshots, as a run sees it."""

    snapshot_id: int
    name: str
    created_at: datetime
    schedule_id: int | None = None
    protected: bool = False


@dataclass(frozen=True)
class Decision:
    action: str  # "create", "rotate" (delete ``delete`` first) or "skip"
    delete: Slot | None = None
    reason: str = ""


def run_decision(slots: list[Slot], *, limit: int, schedule_id: int) -> Decision:
    """Create when a slot is free; else delete this schedule's own oldest unprotected snapshot
    first; else skip, saying why. Never a manual, protected or other schedule's snapshot."""
    if len(slots) < limit:
        return Decision(action="create")
    own = sorted(
        (s for s in slots if s.schedule_id == schedule_id and not s.protected),
        key=lambda s: (s.created_at, s.snapshot_id),
    )
    if own:
        return Decision(action="rotate", delete=own[0])
    return Decision(
        action="skip",
        reason=_(
            "All %(limit)d slots hold snapshots this schedule may not delete (manual, "
            "protected or another schedule's): no slot can be freed."
        )
        % {"limit": limit},
    )


def retention_deletions(
    slots: list[Slot],
    *,
    schedule_id: int,
    keep_newest: int | None,
    keep_days: int | None,
    now: datetime,
) -> list[Slot]:
    """This schedule's unprotected snapshots beyond its newest N or older than D days."""
    own = sorted(
        (s for s in slots if s.schedule_id == schedule_id and not s.protected),
        key=lambda s: (s.created_at, s.snapshot_id),
        reverse=True,
    )
    doomed = []
    for rank, slot in enumerate(own):
        too_many = keep_newest is not None and rank >= keep_newest
        too_old = keep_days is not None and now - slot.created_at > timedelta(days=keep_days)
        if too_many or too_old:
            doomed.append(slot)
    return doomed


# --- The next two weeks -----------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRun:
    at: datetime
    action: str
    deleted: tuple[str, ...]  # rotation first, then retention
    used_after: int
    reason: str = ""


def preview(
    timetable: Timetable,
    slots: list[Slot],
    *,
    schedule_id: int,
    limit: int,
    keep_newest: int | None,
    keep_days: int | None,
    start: datetime,
    days: int = 14,
    name: str = "scheduled",
) -> list[PreviewRun]:
    """What the schedule would do on one server over the next ``days`` days (``name``: the
    schedule's, to name the snapshots its runs would take)."""
    runs: list[PreviewRun] = []
    current = list(slots)
    for number, moment in enumerate(occurrences(timetable, after=start)):
        if moment > start + timedelta(days=days) or number >= 500:
            break
        decision = run_decision(current, limit=limit, schedule_id=schedule_id)
        deleted: list[str] = []
        if decision.action == "skip":
            runs.append(PreviewRun(moment, "skip", (), len(current), decision.reason))
            continue
        if decision.delete is not None:
            current.remove(decision.delete)
            deleted.append(decision.delete.name)
        new = Slot(snapshot_id=-number - 1, name=snapshot_name(name, moment), created_at=moment,
                   schedule_id=schedule_id)  # fmt: skip
        current.append(new)
        for old in retention_deletions(
            current, schedule_id=schedule_id, keep_newest=keep_newest,
            keep_days=keep_days, now=moment,
        ):  # fmt: skip
            current.remove(old)
            deleted.append(old.name)
        runs.append(PreviewRun(moment, decision.action, tuple(deleted), len(current)))
    return runs
