"""The schedule form: what to snapshot, when, and what to keep. Every mistake is said next to
its field and what was typed is kept."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from snapshots_ui.models import Schedule
from snapshots_ui.schedule_plan import (
    Timetable,
    TimetableError,
    description_error,
    timetable_check,
)

ONE_SERVER, MATCHING = "server", "pattern"
CRON, INTERVAL = "cron", "interval"


class ScheduleForm(forms.ModelForm):
    target_kind = forms.ChoiceField(
        label=_("Snapshot"),
        choices=[(ONE_SERVER, _("one server")), (MATCHING, _("every server whose name matches"))],
        widget=forms.RadioSelect,
        initial=ONE_SERVER,
    )
    server_id = forms.TypedChoiceField(label=_("Server"), coerce=int, required=False, choices=[])
    timetable_kind = forms.ChoiceField(
        label=_("When"),
        choices=[(CRON, _("at set times (cron)")), (INTERVAL, _("every so many minutes"))],
        widget=forms.RadioSelect,
        initial=CRON,
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), initial="UTC", choices=[])

    class Meta:
        model = Schedule
        fields = [
            "name", "server_pattern", "cron", "interval_minutes", "time_zone", "keep_newest",
            "keep_days", "description_template", "window_minutes",
        ]  # fmt: skip
        labels = {
            "server_pattern": _("Server names like"),
            "cron": _("Cron expression"),
            "interval_minutes": _("Every (minutes)"),
            "keep_newest": _("Keep the newest"),
            "keep_days": _("Keep for (days)"),
            "description_template": _("Description"),
            "window_minutes": _("Window (minutes)"),
        }
        help_texts = {
            "server_pattern": _("* stands for anything: web-* matches web-server-01."),
            "cron": _("Minute, hour, day, month, weekday: 30 2 * * * is 02:30 every night."),
            "keep_newest": _("Of this schedule's own snapshots on each server; empty: no limit."),
            "keep_days": _("This schedule's snapshots older than this are deleted; empty: kept."),
            "description_template": _("{server}, {schedule} and {date} are filled in."),
            "window_minutes": _(
                "Runs are spread over its first half; a busy server is waited for until its end."
            ),
        }

    def __init__(self, *args: Any, servers: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["server_id"].choices = [("", "—"), *servers]
        self.fields["time_zone"].choices = [(z, z) for z in sorted(available_timezones())]
        for name in ("keep_newest", "interval_minutes", "keep_days"):
            self.fields[name].widget.attrs["min"] = 1
        self.fields["keep_newest"].widget.attrs["max"] = 5
        # Needed or not by the choice above them (checked in ``clean``): never "optional".
        for name in ("server_id", "server_pattern", "cron", "interval_minutes"):
            self.fields[name].never_optional = True
        if self.instance.pk:
            self.initial["target_kind"] = MATCHING if self.instance.server_pattern else ONE_SERVER
            self.initial["timetable_kind"] = INTERVAL if self.instance.interval_minutes else CRON
            self.initial["server_id"] = self.instance.server_id

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("target_kind") == MATCHING:
            data["server_id"] = None
            if not data.get("server_pattern"):
                self.add_error("server_pattern", _("Give a pattern, e.g. web-*."))
        else:
            data["server_pattern"] = ""
            if not data.get("server_id"):
                self.add_error("server_id", _("Choose the server."))
        if data.get("timetable_kind") == INTERVAL:
            data["cron"] = ""
            if not data.get("interval_minutes"):
                self.add_error("interval_minutes", _("Give the number of minutes."))
        else:
            data["interval_minutes"] = None
            if not data.get("cron"):
                self.add_error("cron", _("Give a cron expression, e.g. 30 2 * * *."))
        if data.get("keep_newest") is not None and not 1 <= data["keep_newest"] <= 5:
            self.add_error("keep_newest", _("From 1 to 5: a server holds 5 snapshots at most."))
        self._check_timetable(data)
        if error := description_error(data.get("description_template") or ""):
            self.add_error("description_template", error)
        return data

    def _check_timetable(self, data: dict[str, Any]) -> None:
        if self.errors.get("cron") or self.errors.get("interval_minutes"):
            return
        try:
            timetable_check(self.timetable(data))
        except TimetableError as exc:
            field = "cron" if data.get("cron") else "time_zone"
            self.add_error(field, str(exc))

    @staticmethod
    def timetable(data: dict[str, Any]) -> Timetable:
        return Timetable(
            cron=data.get("cron") or "",
            interval_minutes=data.get("interval_minutes"),
            time_zone=data.get("time_zone") or "UTC",
        )

    def save(self, commit: bool = True) -> Schedule:
        schedule: Schedule = super().save(commit=False)
        schedule.server_id = self.cleaned_data.get("server_id")
        schedule.server_pattern = self.cleaned_data.get("server_pattern") or ""
        schedule.cron = self.cleaned_data.get("cron") or ""
        schedule.interval_minutes = self.cleaned_data.get("interval_minutes")
        return schedule
