"""What the dashboard knows about snapshots beyond the provider's lists, and the schedules that
make them: who made a snapshot and why, how long it is kept, whether it is protected; when a
schedule runs, on which servers, what it keeps, and what each run did."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Events of a snapshot's life (schedules, workflows, protection, expiry) in the audit trail:
# their actions start with one of these; the activity page lists them under their own filter.
LIFECYCLE_EVENT_PREFIXES = (
    "schedule.",
    "workflow.",
    "snapshot.protected",
    "snapshot.unprotected",
    "snapshot.keep_until.",
)
# Who acts when nobody clicked: expiry, and each schedule ("schedule <name>").
EXPIRY_ACTOR_NAME = "expiry"
SCHEDULE_ACTOR_PREFIX = "schedule "

LIFECYCLE_EVENT_LABELS = {
    "schedule.created": _("Schedule created"),
    "schedule.changed": _("Schedule changed"),
    "schedule.paused": _("Schedule paused"),
    "schedule.resumed": _("Schedule resumed"),
    "schedule.deleted": _("Schedule deleted"),
    "schedule.run.done": _("Scheduled run done"),
    "schedule.run.failed": _("Scheduled run failed"),
    "schedule.run.skipped": _("Scheduled run skipped"),
    "schedule.run.missed": _("Scheduled runs missed"),
    "workflow.started": _("Workflow started"),
    "workflow.succeeded": _("Workflow done"),
    "workflow.failed": _("Workflow failed"),
    "workflow.cancelled": _("Workflow cancelled"),
    "workflow.cancel.requested": _("Workflow cancel asked"),
    "snapshot.protected": _("Protected"),
    "snapshot.unprotected": _("Protection lifted"),
    "snapshot.keep_until.changed": _("Keep-until changed"),
    "snapshot.protected.gone.acknowledged": _("Vanished protected snapshot acknowledged"),
    "snapshot.delete.requested": _("Delete asked"),
    "snapshot.delete.done": _("Deleted"),
    "snapshot.delete.failed": _("Delete failed"),
    "snapshot.delete.unconfirmed": _("Delete unconfirmed"),
}


class SnapshotOrigin(models.TextChoices):
    """Why a snapshot exists."""

    MANUAL = "manual", _("Manual")
    SCHEDULED = "scheduled", _("Scheduled")
    SAFETY = "safety", _("Safety snapshot")


class SnapshotRecord(models.Model):
    """One snapshot at the provider as the dashboard knows it. Snapshots the dashboard did not
    make have no record until someone sets something on them (they count as manual)."""

    snapshot_id = models.BigIntegerField(unique=True)
    server_id = models.BigIntegerField(db_index=True)
    server_name = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=255)
    origin = models.CharField(
        max_length=16, choices=SnapshotOrigin.choices, default=SnapshotOrigin.MANUAL
    )
    schedule = models.ForeignKey(
        "snapshots_ui.Schedule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="snapshots",
    )
    # Deleted by the expiry task after this moment; None keeps it until someone deletes it.
    keep_until = models.DateTimeField(null=True, blank=True, db_index=True)
    protected = models.BooleanField(default=False)
    protected_by_name = models.CharField(max_length=150, blank=True)
    protected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the provider stopped listing it (a protected snapshot gone is shown on its server).
    gone_at = models.DateTimeField(null=True, blank=True)
    # Moves with every save: the shared fleet table is drawn again when it does.
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Schedule(models.Model):
    """Snapshots taken on a timetable, for one server or every server whose name matches."""

    name = models.CharField(_("Name"), max_length=100)
    server_id = models.BigIntegerField(null=True, blank=True)
    server_pattern = models.CharField(max_length=100, blank=True)
    # One of: a cron expression (minute hour day month weekday) or every N minutes.
    cron = models.CharField(max_length=100, blank=True)
    interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    keep_newest = models.PositiveSmallIntegerField(null=True, blank=True)
    keep_days = models.PositiveSmallIntegerField(null=True, blank=True)
    description_template = models.CharField(max_length=200, blank=True)
    # Runs due at the same moment are spread over the first part of this window; a run that
    # cannot start (the server busy) waits until its end, then is skipped.
    window_minutes = models.PositiveSmallIntegerField(default=30)
    paused = models.BooleanField(default=False)
    # Intervals count from here; resuming moves it, so a resume never fires at once.
    anchor_at = models.DateTimeField(default=timezone.now)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        # The tick asks only for schedules due: its cost does not grow with those that are not.
        indexes = [
            models.Index(fields=["next_run_at"], name="schedule_due", condition=Q(paused=False))
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(server_id__isnull=False) ^ ~Q(server_pattern=""),
                name="schedule_one_target",
            ),
            models.CheckConstraint(
                condition=~Q(cron="") ^ Q(interval_minutes__isnull=False),
                name="schedule_one_timetable",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RunState(models.TextChoices):
    PENDING = "pending", _("Waiting for its moment")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    SKIPPED = "skipped", _("Skipped")
    MISSED = "missed", _("Missed")
    FAILED = "failed", _("Failed")


class ScheduleRun(models.Model):
    """One occurrence of a schedule on one server."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    server_id = models.BigIntegerField()
    server_name = models.CharField(max_length=255, blank=True)
    due_at = models.DateTimeField()  # the moment the timetable names
    start_after = models.DateTimeField(db_index=True)  # spread inside the window
    deadline = models.DateTimeField()  # the end of the window
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.PENDING)
    reason = models.TextField(blank=True)
    workflow = models.ForeignKey(
        "snapshots_ui.Workflow", null=True, blank=True, on_delete=models.SET_NULL
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "server_id", "due_at"], name="one_run_per_occurrence"
            )
        ]
        indexes = [models.Index(fields=["state", "start_after"], name="run_state_start")]

    def __str__(self) -> str:
        return f"{self.schedule} on {self.server_name} at {self.due_at:%Y-%m-%d %H:%M}"
