"""``Idempotency-Key``: a retried POST gets the first answer instead of acting twice.

The first request with a key inserts its row; the database's unique constraint makes it the
only one that acts, however many arrive at once. The others wait (in short steps, no
transaction held open) for its answer and return it. The same key with a different request is
refused. An answer of the 5xx kind is not kept: nothing was changed, so a retry may act.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from snapshots_ui.models import ApiToken, IdempotentRequest
from snapshots_ui.refusals import ActionRefused

KEY_MAX_LENGTH = 255
# How long a key's first answer is kept (a CI job's retries come within minutes).
KEEP_FOR = timedelta(hours=24)
# How long a repeat waits for the first request's answer before saying it is still running.
WAIT_SECONDS = 15.0
STEP_SECONDS = 0.1


class KeyReused(ActionRefused):
    """The key was already used for a different request."""


class KeyInUse(ActionRefused):
    """The key's first request has not answered yet."""


@dataclass(frozen=True)
class Claim:
    """``row`` is this request's to complete (``replay`` None), or the first answer."""

    row: IdempotentRequest | None
    replay: tuple[int, object] | None = None


def request_hash(*, method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def idempotency_claim(*, token: ApiToken, key: str, fingerprint: str) -> Claim:
    """Claim the key for this request, or return the answer its first request gave."""
    try:
        with transaction.atomic():
            row = IdempotentRequest.objects.create(token=token, key=key, request_hash=fingerprint)
        return Claim(row=row)
    except IntegrityError:
        pass
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        first = IdempotentRequest.objects.filter(token=token, key=key).first()
        if first is None:  # its first request failed meanwhile: this one may act
            return idempotency_claim(token=token, key=key, fingerprint=fingerprint)
        if first.request_hash != fingerprint:
            raise KeyReused(
                _("This Idempotency-Key was already used for a different request; use a new key.")
            )
        if first.status:
            return Claim(row=None, replay=(first.status, first.body))
        if time.monotonic() > deadline:
            raise KeyInUse(
                _("The first request with this Idempotency-Key is still running; retry shortly.")
            )
        time.sleep(STEP_SECONDS)


def idempotency_complete(row: IdempotentRequest, *, status: int, body: object) -> None:
    """Keep the answer for repeats, or (5xx: nothing done) free the key for a retry."""
    if status >= 500:
        IdempotentRequest.objects.filter(pk=row.pk).delete()
        return
    IdempotentRequest.objects.filter(pk=row.pk).update(status=status, body=body)


def idempotency_forget(*, now: datetime) -> int:
    """Drop the answers kept longer than ``KEEP_FOR`` (the lifecycle tick); returns how many."""
    deleted, _by_model = IdempotentRequest.objects.filter(created_at__lt=now - KEEP_FOR).delete()
    return deleted
