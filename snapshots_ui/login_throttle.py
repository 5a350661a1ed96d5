"""Log-in throttling on three keys, each with its own limit (django-axes does the counting).

- a username from one address: ``LOGIN_FAILURES_PER_USER_AND_ADDRESS`` (5) failures;
- one address, whatever the usernames (one address spraying a password over every account):
  ``LOGIN_FAILURES_PER_ADDRESS`` (20);
- one username, whatever the addresses (a botnet guessing one account's password):
  ``LOGIN_FAILURES_PER_USERNAME`` (10).

Each lock lasts ``LOGIN_COOLOFF_MINUTES`` (15) after the last failure. django-axes compares the
worst of its parameter sets with a single limit; this handler gives each set its own, by
scaling each set's count to the first set's limit.
"""

from __future__ import annotations

import math
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.http import HttpRequest

# In the order of AXES_LOCKOUT_PARAMETERS.
LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address", "username"]


def limits() -> list[int]:
    return [
        settings.LOGIN_FAILURES_PER_USER_AND_ADDRESS,
        settings.LOGIN_FAILURES_PER_ADDRESS,
        settings.LOGIN_FAILURES_PER_USERNAME,
    ]


class LayeredLimitsHandler(AxesDatabaseHandler):
    """django-axes' database handler with one limit per lock-out parameter set."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        base = settings.LOGIN_FAILURES_PER_USER_AND_ADDRESS
        worst = 0
        for attempts, limit in zip(
            self.get_user_attempts(request, credentials), limits(), strict=True
        ):
            failures = sum(attempts.values_list("failures_since_start", flat=True))
            # Reaching this set's own limit reaches the limit axes compares with (``base``).
            worst = max(worst, math.floor(failures * base / limit))
        return worst
