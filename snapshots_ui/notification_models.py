"""The tables of notifications: where they go (targets and personal subscriptions), what
happened (events) and each attempt to tell someone (deliveries, one per event and target)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")

    @property
    def rank(self) -> int:
        return [Severity.INFO, Severity.WARNING, Severity.ERROR].index(self)


class TargetKind(models.TextChoices):
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Signed webhook")
    APPRISE = "apprise", _("Chat or other service (Apprise URL)")


class NotificationTarget(models.Model):
    """Somewhere the team is told: email addresses, a signed webhook or an Apprise URL.
    ``address`` and ``secret`` may hold credentials: pages show ``masked_address`` only."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=TargetKind.choices)
    address = models.TextField()
    secret = models.CharField(max_length=128, blank=True)
    # Matchers: the event types (empty: every type), the least severity, a server-name pattern.
    event_types = models.JSONField(default=list, blank=True)
    min_severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    server_pattern = models.CharField(max_length=255, blank=True)
    # Made from NOTIFY_URLS: shown read-only, kept in step with the environment.
    from_env = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_notifications", "Can manage notification targets")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None


class SubscriptionScope(models.TextChoices):
    NONE = "none", _("No email")
    MINE = "mine", _("My operations")
    MATCHING = "matching", _("All operations on servers matching a pattern")


class Subscription(models.Model):
    """A person's own email notifications."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_subscription"
    )
    scope = models.CharField(
        max_length=16, choices=SubscriptionScope.choices, default=SubscriptionScope.NONE
    )
    server_pattern = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.scope})"


class NotificationEvent(models.Model):
    """Something worth telling, raised once: ``key`` names its cause (an audit event, a
    vanished snapshot, a provider outage), so raising it again finds the first."""

    key = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=64)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    server_id = models.BigIntegerField(null=True, blank=True)
    server_name = models.CharField(max_length=255, blank=True)
    snapshot_id = models.BigIntegerField(null=True, blank=True)
    snapshot_name = models.CharField(max_length=255, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # The page it is about, as a path on the dashboard.
    path = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type}: {self.title}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    # Its target is paused: sent when an Admin resumes it.
    HELD = "held", _("Held (target paused)")


class Delivery(models.Model):
    """Telling one target (or one person) about one event; its id goes with every attempt so
    that a receiver can drop a repeat."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(NotificationEvent, on_delete=models.CASCADE)
    target = models.ForeignKey(NotificationTarget, null=True, blank=True, on_delete=models.CASCADE)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    test = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # An attempt in flight holds the delivery until then, so two workers never send it at once.
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "target"],
                condition=Q(target__isnull=False),
                name="one_delivery_per_event_and_target",
            ),
            models.UniqueConstraint(
                fields=["event", "user"],
                condition=Q(user__isnull=False),
                name="one_delivery_per_event_and_person",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.state})"

    @property
    def recipient_name(self) -> str:
        if self.target_id is not None:
            return self.target.name
        return self.user.get_username() if self.user_id is not None else ""
