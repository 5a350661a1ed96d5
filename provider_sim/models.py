"""The simulated provider's state.

Everything lives in the database so that every process and thread serving the simulator (and
the tests driving it) sees the same servers, snapshots, faults and counters.
"""

from django.db import models


class SimServer(models.Model):
    """A server of the simulated account."""

    class Status(models.TextChoices):
        RUNNING = "running"
        STOPPED = "stopped"
        RESTORING = "restoring"  # until restore_due_at

    name = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    ip_address = models.GenericIPAddressField(protocol="IPv4")
    region = models.CharField(max_length=32)
    plan = models.CharField(max_length=32)
    disk_gb = models.PositiveIntegerField()
    # While restoring: when the restore ends and which state the server returns to.
    restore_due_at = models.DateTimeField(null=True, blank=True)
    status_after_restore = models.CharField(max_length=16, choices=Status.choices, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "restore_due_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"


class SimSnapshot(models.Model):
    """A snapshot of a simulated server (at most five per server, as at the provider)."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        FAILED = "failed"

    server = models.ForeignKey(SimServer, on_delete=models.CASCADE, related_name="snapshots")
    name = models.CharField(max_length=64)
    description = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    size_mb = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    # While in progress: when the snapshot completes and the size it will then have.
    complete_at = models.DateTimeField(null=True, blank=True)
    final_size_mb = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"]),
            models.Index(fields=["status", "complete_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"


class SimFault(models.Model):
    """A rule that makes matching API requests slow or fail (``provider_sim.faults``), for
    every matching request or, with ``remaining``, that many of them."""

    class Body(models.TextChoices):
        JSON = "json"
        HTML = "html"
        MALFORMED = "malformed"
        EMPTY = "empty"

    class ErrorShape(models.TextChoices):
        DETAIL = "detail"
        ERROR = "error"
        MESSAGE = "message"

    method = models.CharField(max_length=10, blank=True)
    path_contains = models.CharField(max_length=200, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    retry_after = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    timeout_seconds = models.FloatField(default=0)
    body = models.CharField(max_length=16, choices=Body.choices, default=Body.JSON)
    error_shape = models.CharField(
        max_length=16, choices=ErrorShape.choices, default=ErrorShape.DETAIL
    )
    message = models.CharField(max_length=255, blank=True)
    # How many more requests the rule applies to; null means until the faults are cleared.
    remaining = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"fault {self.pk}: {self.method or '*'} {self.path_contains or '*'}"


class SimTokenOverride(models.Model):
    """At most one row: the token the API accepts instead of ``settings.VPS_SIM_TOKEN``."""

    token = models.CharField(max_length=255)

    def __str__(self) -> str:
        return "token override"


class SimCallCount(models.Model):
    """How many API requests each endpoint received, one row per ``"METHOD /path/"``."""

    endpoint = models.CharField(max_length=200, unique=True)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["endpoint"]

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.count}"
