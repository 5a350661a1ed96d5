from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from snapshots_ui.statuses import ACTIVE_STATES, OperationState


class OperationKind(models.TextChoices):
    CREATE = "create", _("Create snapshot")
    RESTORE = "restore", _("Restore server")
    DELETE = "delete", _("Delete snapshot")


class OperationQuerySet(models.QuerySet["Operation"]):
    def active(self) -> OperationQuerySet:
        return self.filter(state__in=ACTIVE_STATES)


class Operation(models.Model):
    """One create, restore or delete that someone started, from request to outcome."""

    kind = models.CharField(max_length=16, choices=OperationKind.choices)
    state = models.CharField(
        max_length=16, choices=OperationState.choices, default=OperationState.IN_PROGRESS
    )
    server_id = models.BigIntegerField()
    server_name = models.CharField(max_length=255, blank=True)
    snapshot_id = models.BigIntegerField(null=True, blank=True)
    snapshot_name = models.CharField(max_length=255, blank=True)
    snapshot_created_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    requested_by_name = models.CharField(max_length=150, blank=True)
    requested_from_ip = models.GenericIPAddressField(null=True, blank=True)

    provider_message = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # The provider's answer to the create or restore request was lost (e.g. a timeout): the
    # next poll finds out whether it happened instead of sending the request again.
    needs_reconcile = models.BooleanField(default=False)
    # A create's snapshot, once the provider names it: how long it is kept, why it exists,
    # which schedule made it (see SnapshotRecord).
    keep_until = models.DateTimeField(null=True, blank=True)
    origin = models.CharField(max_length=16, blank=True)
    schedule = models.ForeignKey(
        "snapshots_ui.Schedule", null=True, blank=True, on_delete=models.SET_NULL
    )

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    check_failures = models.PositiveIntegerField(default=0)

    objects = OperationQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [
            ("create_snapshot", "Can create snapshots"),
            ("restore_snapshot", "Can restore a server from a snapshot"),
            ("delete_snapshot", "Can delete snapshots"),
            ("view_dashboard", "Can view servers, snapshots and activity"),
            ("view_provider", "Can see the provider budget and its calls"),
        ]
        indexes = [
            models.Index(fields=["state", "server_id"], name="operation_state_server"),
            models.Index(fields=["server_id", "-started_at"], name="operation_server_started"),
        ]
        constraints = [
            # Double clicks, two tabs and retried requests cannot start the same create twice.
            models.UniqueConstraint(
                fields=["server_id", "snapshot_name"],
                condition=Q(kind=OperationKind.CREATE, state__in=ACTIVE_STATES),
                name="one_active_create_per_name",
            ),
            models.UniqueConstraint(
                fields=["server_id"],
                condition=Q(kind=OperationKind.RESTORE, state__in=ACTIVE_STATES),
                name="one_active_restore_per_server",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.snapshot_name} on {self.server_name}"

    @property
    def state_enum(self) -> OperationState:
        return OperationState(self.state)

    @property
    def is_active(self) -> bool:
        return not self.state_enum.is_terminal

    @property
    def is_stuck(self) -> bool:
        return self.state == OperationState.STUCK

    @property
    def is_failed(self) -> bool:
        return self.state_enum.is_failed

    @property
    def status_refresh_seconds(self) -> float:
        """How often an open page asks for this operation's status while it runs."""
        if self.is_stuck:
            return settings.VPS_STUCK_STATUS_REFRESH_SECONDS
        return settings.VPS_STATUS_REFRESH_SECONDS

    def finish(self, state: OperationState, *, error: str = "") -> None:
        """Mark the operation ended (in memory; the caller saves)."""
        self.state = state
        self.finished_at = timezone.now()
        if error:
            self.error = error
        self.needs_reconcile = False

    @property
    def expected_seconds(self) -> tuple[int, int]:
        """The provider's stated window for this kind of operation."""
        if self.kind == OperationKind.RESTORE:
            return settings.VPS_RESTORE_EXPECTED_SECONDS
        if self.kind == OperationKind.CREATE:
            return settings.VPS_CREATE_EXPECTED_SECONDS
        return settings.VPS_DELETE_EXPECTED_SECONDS

    @property
    def stuck_after(self) -> timedelta:
        return timedelta(seconds=self.expected_seconds[1] * settings.VPS_STUCK_GRACE_FACTOR)

    def elapsed(self, now: timezone.datetime | None = None) -> timedelta:
        end = self.finished_at or now or timezone.now()
        return end - self.started_at

    def outcome_sentence(self) -> str:
        """How the operation ended, in one sentence for a toast or its row."""
        names = {"name": self.snapshot_name, "server": self.server_name}
        failed = self.is_failed
        if self.kind == OperationKind.RESTORE:
            if failed:
                return gettext("Restore of %(server)s from “%(name)s” failed.") % names
            return gettext("%(server)s was restored from “%(name)s”.") % names
        if self.kind == OperationKind.CREATE:
            if failed:
                return gettext("Snapshot “%(name)s” of %(server)s failed.") % names
            return gettext("Snapshot “%(name)s” of %(server)s is ready.") % names
        if failed:
            return gettext("Deleting snapshot “%(name)s” of %(server)s failed.") % names
        return gettext("Snapshot “%(name)s” of %(server)s deleted.") % names

    def progress_percent(self, now: timezone.datetime | None = None) -> int:
        """Elapsed time against the provider's maximum, capped below 100 while running."""
        maximum = self.expected_seconds[1]
        if not self.is_active:
            return 100
        if maximum <= 0:
            return 0
        return min(99, int(self.elapsed(now).total_seconds() * 100 / maximum))


class AuditEvent(models.Model):
    """An append-only record of who did what: snapshot actions and account events.

    A saved event cannot be changed or deleted through the model (the admin shows it read-only
    too); only deleting its actor's account clears the link to the actor, never the names."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, blank=True)
    actor_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64)
    operation = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    server_id = models.BigIntegerField(null=True, blank=True)
    server_name = models.CharField(max_length=255, blank=True)
    snapshot_id = models.BigIntegerField(null=True, blank=True)
    snapshot_name = models.CharField(max_length=255, blank=True)
    # For an account event: the account it is about (the actor may be an Admin, or nobody).
    subject_name = models.CharField(max_length=150, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "-created_at"], name="audit_action_created")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("An audit event cannot be changed once recorded.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("An audit event cannot be deleted.")

    @property
    def is_account_event(self) -> bool:
        return self.action.startswith(ACCOUNT_EVENT_PREFIX)


# Account events (log-ins, lock-outs, two-factor, roles, ...) have actions starting with this.
ACCOUNT_EVENT_PREFIX = "account."


class AccountSettings(models.Model):
    """What the dashboard keeps about a person beyond Django's user: notices for their next
    log-in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dashboard_settings"
    )
    # Set when an Admin removed the person's authenticator; shown once at their next log-in.
    two_factor_reset_at = models.DateTimeField(null=True, blank=True)
    two_factor_reset_by = models.CharField(max_length=150, blank=True)
    # The language the person chose in the top bar; empty: the browser's (Accept-Language).
    language = models.CharField(
        max_length=10, blank=True, choices=settings.LANGUAGES, verbose_name=_("Language")
    )

    class Meta:
        verbose_name = _("account settings")
        verbose_name_plural = _("account settings")

    def __str__(self) -> str:
        return str(self.user)

    @classmethod
    def of(cls, user: object) -> AccountSettings:
        settings_row, _created = cls.objects.get_or_create(user=user)
        return settings_row


class SecurityPolicy(models.Model):
    """Team-wide security choices an Admin makes in Django admin. There is one row."""

    require_two_factor = models.BooleanField(
        default=False,
        verbose_name=_("Require two-factor login for Operators and Admins"),
        help_text=_(
            "When set, Operators and Admins must set up an authenticator app before they can "
            "use the dashboard. Viewers may still choose to."
        ),
    )

    class Meta:
        verbose_name = _("security policy")
        verbose_name_plural = _("security policy")

    def __str__(self) -> str:
        return str(_("Security policy"))

    @classmethod
    def current(cls) -> SecurityPolicy:
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


# Lifecycle, workflow and API models live in their own modules; Django finds them through here.
from snapshots_ui.api_models import ApiScope, ApiToken, IdempotentRequest  # noqa: E402
from snapshots_ui.lifecycle_models import (  # noqa: E402
    EXPIRY_ACTOR_NAME,
    LIFECYCLE_EVENT_LABELS,
    LIFECYCLE_EVENT_PREFIXES,
    SCHEDULE_ACTOR_PREFIX,
    RunState,
    Schedule,
    ScheduleRun,
    SnapshotOrigin,
    SnapshotRecord,
)
from snapshots_ui.notification_models import (  # noqa: E402
    Delivery,
    DeliveryState,
    NotificationEvent,
    NotificationTarget,
    Severity,
    Subscription,
    SubscriptionScope,
    TargetKind,
)
from snapshots_ui.workflow_models import (  # noqa: E402
    StepAction,
    StepState,
    Workflow,
    WorkflowKind,
    WorkflowState,
    WorkflowStep,
)

__all__ = [
    "ACCOUNT_EVENT_PREFIX",
    "EXPIRY_ACTOR_NAME",
    "LIFECYCLE_EVENT_LABELS",
    "LIFECYCLE_EVENT_PREFIXES",
    "SCHEDULE_ACTOR_PREFIX",
    "AccountSettings",
    "ApiScope",
    "ApiToken",
    "AuditEvent",
    "Delivery",
    "DeliveryState",
    "IdempotentRequest",
    "NotificationEvent",
    "NotificationTarget",
    "Operation",
    "OperationKind",
    "RunState",
    "Schedule",
    "ScheduleRun",
    "SecurityPolicy",
    "Severity",
    "SnapshotOrigin",
    "SnapshotRecord",
    "StepAction",
    "StepState",
    "Subscription",
    "SubscriptionScope",
    "TargetKind",
    "Workflow",
    "WorkflowKind",
    "WorkflowState",
    "WorkflowStep",
]
