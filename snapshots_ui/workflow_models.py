"""Chained workflows: several operations that must happen in order, as one recorded unit.

"Delete the oldest, then create" (a create at 5 of 5, a schedule's rotation) and "snapshot the
server, then restore" (a restore you can undo) are workflows. Their state lives in the
database, so a worker killed or Redis restarted between two steps loses nothing: the engine
(``snapshots_ui.workflows``) picks them up again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WorkflowKind(models.TextChoices):
    REPLACE_OLDEST = "replace_oldest", _("Replace the oldest snapshot")
    ROTATION = "rotation", _("Scheduled snapshot with rotation")
    SAFE_RESTORE = "safe_restore", _("Restore with a safety snapshot")


class WorkflowState(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class StepAction(models.TextChoices):
    CREATE = "create", _("Take a snapshot")
    DELETE = "delete", _("Delete a snapshot")
    RESTORE = "restore", _("Restore the server")


class StepState(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Workflow(models.Model):
    kind = models.CharField(max_length=32, choices=WorkflowKind.choices)
    state = models.CharField(
        max_length=16, choices=WorkflowState.choices, default=WorkflowState.RUNNING
    )
    server_id = models.BigIntegerField()
    server_name = models.CharField(max_length=255, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_by_name = models.CharField(max_length=150, blank=True)
    started_from_ip = models.GenericIPAddressField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why it ended as it did, in a sentence for people.
    outcome = models.TextField(blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    schedule = models.ForeignKey(
        "snapshots_ui.Schedule", null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One chain at a time on a server: a second person is told who started the first.
            models.UniqueConstraint(
                fields=["server_id"],
                condition=Q(state="running"),
                name="one_running_workflow_per_server",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.server_name}"

    @property
    def is_running(self) -> bool:
        return self.state == WorkflowState.RUNNING


class WorkflowStep(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=16, choices=StepAction.choices)
    state = models.CharField(max_length=16, choices=StepState.choices, default=StepState.WAITING)
    # A delete or restore names its snapshot (a create's is known once the provider names it).
    snapshot_id = models.BigIntegerField(null=True, blank=True)
    snapshot_name = models.CharField(max_length=255, blank=True)
    # A create's snapshot: its name, description, how long it is kept, why it exists.
    description = models.CharField(max_length=255, blank=True)
    keep_until = models.DateTimeField(null=True, blank=True)
    origin = models.CharField(max_length=16, blank=True)
    operation = models.OneToOneField(
        "snapshots_ui.Operation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="workflow_step",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["workflow", "position"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "position"], name="one_step_per_position")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_action_display()} {self.snapshot_name}"

    @property
    def expected_seconds(self) -> tuple[int, int]:
        """The provider's stated window for this step's kind of operation."""
        windows = {
            StepAction.CREATE: settings.VPS_CREATE_EXPECTED_SECONDS,
            StepAction.RESTORE: settings.VPS_RESTORE_EXPECTED_SECONDS,
        }
        return windows.get(StepAction(self.action), settings.VPS_DELETE_EXPECTED_SECONDS)
