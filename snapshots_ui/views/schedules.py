"""Schedules: the list, the form with its two-week preview, pause, resume and delete."""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from snapshots_ui import roles, schedule_plan, schedules, selectors
from snapshots_ui.fleet_cache import FleetView, fleet_current
from snapshots_ui.models import Schedule, ScheduleRun
from snapshots_ui.provider import budget
from snapshots_ui.schedule_forms import ScheduleForm
from snapshots_ui.views.common import actor_of, allowed_actions


@require_GET
@login_required
@permission_required(roles.VIEW, raise_exception=True)
def schedule_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    fleet = fleet_current()
    rows = [
        {
            "schedule": schedule,
            "servers": len(schedules.schedule_servers(schedule, fleet)),
            "stale": schedules.stale(schedule, now=now),
            "last_run": ScheduleRun.objects.filter(schedule=schedule)
            .exclude(state="pending")
            .first(),
            "describe": schedules.describe(schedule),
        }
        for schedule in Schedule.objects.all()
    ]
    return render(
        request,
        "snapshots_ui/schedules.html",
        {"rows": rows, "fleet": fleet, **allowed_actions(request)},
    )


def _servers(fleet: FleetView) -> list[tuple[int, str]]:
    if fleet.data is None:
        return []
    return sorted(((s.id, s.name) for s in fleet.data.servers), key=lambda pair: pair[1].casefold())


PREVIEW_SERVERS_SHOWN = 20


def _rows(runs: list[schedule_plan.PreviewRun]) -> list[dict[str, object]]:
    """The preview's lines: runs skipped in a row for one reason are one line."""
    rows: list[dict[str, object]] = []
    for run in runs:
        last = rows[-1] if rows else None
        if last and run.action == last["action"] == "skip" and run.reason == last["reason"]:
            last["until"] = run.at
            last["count"] = int(last["count"]) + 1  # type: ignore[call-overload]
            continue
        rows.append({"at": run.at, "until": None, "count": 1, "action": run.action,
                     "reason": run.reason, "deleted": run.deleted,
                     "used_after": run.used_after})  # fmt: skip
    return rows


def _minutes_of_budget(servers: list[dict[str, object]]) -> int:
    """About how long starting every server's run takes, counting half the background budget
    for them (the other half follows the operations in progress)."""
    calls = sum(2 if any(run.action == "rotate" for run in item["runs"]) else 1  # type: ignore[attr-defined]
                for item in servers)  # fmt: skip
    return math.ceil(calls / max(1, budget.limits().background_per_minute / 2))


def _preview(form: ScheduleForm, fleet: FleetView, schedule: Schedule) -> dict[str, object]:
    """What the schedule would do over the next 14 days on every server it takes: totals for
    all of them, and the runs of the first few (those with skipped runs first)."""
    if not form.is_valid():
        return {}
    candidate = form.save(commit=False)
    now = timezone.now()
    timetable = form.timetable(form.cleaned_data)
    timetable = schedule_plan.Timetable(
        cron=timetable.cron, interval_minutes=timetable.interval_minutes,
        time_zone=timetable.time_zone, anchor_at=now,
    )  # fmt: skip
    servers = []
    for server in schedules.schedule_servers(candidate, fleet):
        try:
            _fleet, summary = selectors.server_get(server_id=server.id, fleet=fleet)
        except selectors.NotFound:
            continue
        runs = schedule_plan.preview(
            timetable, schedules.slots_of(summary), schedule_id=schedule.pk or -1,
            limit=summary.limit, keep_newest=candidate.keep_newest,
            keep_days=candidate.keep_days, start=now, name=candidate.name,
        )  # fmt: skip
        servers.append({"server": server, "runs": runs, "rows": _rows(runs), "limit": summary.limit,
                        "skips": sum(r.action == "skip" for r in runs),
                        "deletions": sum(len(r.deleted) for r in runs)})  # fmt: skip
    servers.sort(key=lambda item: (-item["skips"], item["server"].name.casefold()))
    return {
        "minutes_needed": _minutes_of_budget(servers),
        "servers": servers[:PREVIEW_SERVERS_SHOWN],
        "server_count": len(servers),
        "hidden_count": max(0, len(servers) - PREVIEW_SERVERS_SHOWN),
        "runs": sum(len(item["runs"]) - item["skips"] for item in servers),
        "skips": sum(item["skips"] for item in servers),
        "deletions": sum(item["deletions"] for item in servers),
        "time_zone": timetable.time_zone,
    }


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.CREATE, raise_exception=True)
def schedule_edit(request: HttpRequest, schedule_id: int | None = None) -> HttpResponse:
    """New or existing; POST with ``preview`` only shows the preview, without saving."""
    schedule = get_object_or_404(Schedule, pk=schedule_id) if schedule_id else Schedule()
    fleet = fleet_current()
    form = ScheduleForm(request.POST or None, instance=schedule, servers=_servers(fleet))
    preview: dict[str, object] = {}
    if request.method == "POST":
        preview = _preview(form, fleet, schedule)
        if form.is_valid() and "save" in request.POST:
            saved = form.save(commit=False)
            if not saved.pk:
                saved.created_by_name = actor_of(request).name
            schedules.schedule_save(actor=actor_of(request), schedule=saved)
            messages.success(request, _("Schedule “%(name)s” saved.") % {"name": saved.name})
            return redirect("snapshots_ui:schedules")
    context = {"form": form, "schedule": schedule, "preview": preview, "fleet": fleet}
    if getattr(request, "htmx", False) and request.htmx.target == "schedule-preview":
        return render(request, "snapshots_ui/schedule_form.html#schedule-preview", context)
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "snapshots_ui/schedule_form.html", context, status=status)


@require_POST
@login_required
@permission_required(roles.CREATE, raise_exception=True)
def schedule_pause(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=schedule_id)
    pause = request.POST.get("action") != "resume"
    schedules.schedule_pause(actor=actor_of(request), schedule=schedule, pause=pause)
    if pause:
        messages.info(request, _("“%(name)s” is paused.") % {"name": schedule.name})
    else:
        messages.info(
            request,
            _("“%(name)s” resumed; its next run is at its next time, not now.")
            % {"name": schedule.name},
        )
    return redirect("snapshots_ui:schedules")


@require_POST
@login_required
@permission_required(roles.CREATE, raise_exception=True)
def schedule_delete(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=schedule_id)
    schedules.schedule_delete(actor=actor_of(request), schedule=schedule)
    messages.info(
        request,
        _("Schedule “%(name)s” deleted; the snapshots it made stay.") % {"name": schedule.name},
    )
    return redirect("snapshots_ui:schedules")
