"""What the API for automation keeps: the tokens people give their CI jobs (stored as hashes
only) and the first answer to each request sent with an ``Idempotency-Key``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiScope(models.TextChoices):
    """What a token may do; never more than its owner's role allows at the moment of use."""

    READ = "read", _("Read")
    CREATE = "create", _("Create snapshots")
    RESTORE = "restore", _("Restore servers")
    DELETE = "delete", _("Delete snapshots")


class ApiToken(models.Model):
    """A token of one person for automation. Only ``prefix`` (to find it) and the SHA-256 of
    the whole token are stored; the token itself is shown once, when it is made."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=64)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    # Comma-separated ApiScope values, in their order.
    scopes = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_live_token_name_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @property
    def scope_list(self) -> list[str]:
        return [scope for scope in self.scopes.split(",") if scope]

    def is_expired(self, now: object = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and not self.is_expired()


class IdempotentRequest(models.Model):
    """The first answer to a POST sent with an ``Idempotency-Key``, per token. The unique
    constraint makes a key's first request the only one that acts, however many arrive at
    once; ``status`` 0 means its answer is not known yet."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(default=0)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="one_answer_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status or 'pending'})"
