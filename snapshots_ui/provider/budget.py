"""One budget for every call to the provider, web and workers together.

The provider publishes no rate limit, so the operator states one: ``VPS_API_RATE_LIMIT``
requests a minute. Every HTTP request to the provider (retries included) first takes a slot
in a shared moving window kept in Redis, so no 60-second window ever holds more than the
budget, however many processes call.

Two classes share it. **Foreground** calls (a person's create, restore or delete and the reads
their page needs) may use all of it and never queue behind background work: ``VPS_API_
FOREGROUND_SHARE`` of the budget is theirs alone. **Background** calls (polls, refreshes,
sweeps) are held to the rest. A call waits for a slot at most ``VPS_API_FOREGROUND_MAX_WAIT``
or ``VPS_API_BACKGROUND_MAX_WAIT`` seconds, then fails as "unavailable, retry later".

When the provider answers 429, ``pause_for`` stops every class in every process until its
``Retry-After`` has passed.

The class of the calls a piece of code makes is a context variable: background unless the
code runs inside ``foreground()`` (the web middleware wraps each page request in it).
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

from snapshots_ui.provider.errors import ProviderUnavailable

FOREGROUND = "foreground"
BACKGROUND = "background"
WINDOW_SECONDS = 60

_ALL_KEY = "provider-budget:all"
_BACKGROUND_KEY = "provider-budget:background"
_PAUSE_KEY = "provider-budget:paused-until"

_budget_class: ContextVar[str] = ContextVar("provider_budget_class", default=BACKGROUND)

# Takes a slot when there is one: returns 0, or how many milliseconds until one frees up.
# KEYS: all calls, background calls, the pause. ARGV: window (ms), limit for all, limit for
# background, 1 for a background call, a unique member.
_TAKE_SLOT = """
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local window = tonumber(ARGV[1])
local paused_until = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused_until > now then return paused_until - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local function wait_for(key)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return wait_for(KEYS[1]) end
if ARGV[4] == '1' then
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return wait_for(KEYS[2]) end
  redis.call('ZADD', KEYS[2], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], window)
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


@dataclass(frozen=True)
class Limits:
    per_minute: int
    background_per_minute: int

    @property
    def foreground_reserve(self) -> int:
        return self.per_minute - self.background_per_minute


def limits() -> Limits:
    per_minute = max(1, settings.VPS_API_RATE_LIMIT)
    reserve = math.ceil(per_minute * settings.VPS_API_FOREGROUND_SHARE)
    return Limits(per_minute=per_minute, background_per_minute=max(1, per_minute - reserve))


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _client() -> redis.Redis:
    return _redis(settings.PROVIDER_BUDGET_REDIS_URL)


@cache
def _take_slot_script(url: str) -> redis.commands.core.Script:
    return _redis(url).register_script(_TAKE_SLOT)


def shared_redis() -> redis.Redis:
    """The Redis database the budget (and the call telemetry) live in."""
    return _client()


@contextlib.contextmanager
def foreground() -> Iterator[None]:
    """Calls made inside are a person's: they may use the reserved share."""
    token = _budget_class.set(FOREGROUND)
    try:
        yield
    finally:
        _budget_class.reset(token)


def current_class() -> str:
    return _budget_class.get()


class BudgetWait(ProviderUnavailable):
    """No slot within the longest wait allowed: the budget or a 429 pause holds the call."""


def acquire() -> float:
    """Take a slot for one HTTP request of the current class; returns the seconds waited.

    Raises ``BudgetWait`` (a ``ProviderUnavailable``) with ``retry_after`` when none comes
    within the class's longest wait.
    """
    kind = current_class()
    max_wait = _patience.get()
    if max_wait is None:
        max_wait = (
            settings.VPS_API_FOREGROUND_MAX_WAIT
            if kind == FOREGROUND
            else settings.VPS_API_BACKGROUND_MAX_WAIT
        )
    budget = limits()
    script = _take_slot_script(settings.PROVIDER_BUDGET_REDIS_URL)
    started = time.monotonic()
    while True:
        wait_ms = int(
            script(
                keys=[_ALL_KEY, _BACKGROUND_KEY, _PAUSE_KEY],
                args=[
                    WINDOW_SECONDS * 1000,
                    budget.per_minute,
                    budget.background_per_minute,
                    1 if kind == BACKGROUND else 0,
                    uuid.uuid4().hex,
                ],
            )
        )
        waited = time.monotonic() - started
        if wait_ms == 0:
            return waited
        wait = wait_ms / 1000
        if waited + wait > max_wait:
            raise BudgetWait(_budget_message(wait), retry_after=math.ceil(wait))
        time.sleep(wait)


def _budget_message(wait: float) -> str:
    if paused_for() > 0:
        return f"The provider asked the dashboard to slow down; next call in {math.ceil(wait)} s."
    return (
        f"The provider budget ({limits().per_minute} requests a minute) is used up for now; "
        f"next call in {math.ceil(wait)} s."
    )


def pause_for(seconds: float) -> None:
    """Stop every call, in every process, for ``seconds`` (a 429's Retry-After)."""
    client = _client()
    now_seconds, now_micro = client.time()
    until_ms = int(now_seconds * 1000 + now_micro // 1000 + seconds * 1000)
    # Never shorten a pause another process set.
    current = int(client.get(_PAUSE_KEY) or 0)
    if until_ms > current:
        client.set(_PAUSE_KEY, until_ms, px=max(1, int(seconds * 1000)))


def paused_for() -> float:
    """Seconds left of a 429 pause (0 when there is none)."""
    client = _client()
    until = int(client.get(_PAUSE_KEY) or 0)
    if not until:
        return 0.0
    now_seconds, now_micro = client.time()
    return max(0.0, (until - (now_seconds * 1000 + now_micro // 1000)) / 1000)


@dataclass(frozen=True)
class Usage:
    calls: int
    background_calls: int
    limits: Limits

    @property
    def left(self) -> int:
        return max(0, self.limits.per_minute - self.calls)


def usage() -> Usage:
    """Calls in the last 60 seconds, for metrics and the provider page."""
    client = _client()
    now_seconds, now_micro = client.time()
    since = now_seconds * 1000 + now_micro // 1000 - WINDOW_SECONDS * 1000
    pipe = client.pipeline()
    pipe.zcount(_ALL_KEY, since, "+inf")
    pipe.zcount(_BACKGROUND_KEY, since, "+inf")
    calls, background = pipe.execute()
    return Usage(calls=int(calls), background_calls=int(background), limits=limits())


def background_left() -> int:
    """Background calls the budget still allows in the current minute."""
    now = usage()
    return max(0, now.limits.background_per_minute - now.background_calls)


# --- How background work is spread over the budget ----------------------------------------------

# At most this share of the background budget follows operations in progress; the lists are
# read again with what the polls leave, and only half of it, so a page opened meanwhile and
# the next operation still find slots.
POLL_SHARE = 0.7
REFRESH_SHARE = 0.5
_POLL_LOAD_KEY = "provider-budget:poll-load"
_patience: ContextVar[float | None] = ContextVar("provider_budget_patience", default=None)


@contextlib.contextmanager
def patient(max_wait: float) -> Iterator[None]:
    """Calls made inside may wait this long for a slot (work nobody is waiting for)."""
    token = _patience.set(max_wait)
    try:
        yield
    finally:
        _patience.reset(token)


def poll_period(calls_per_cycle: float) -> float:
    """Seconds between two polls of the operations in progress: ``VPS_POLL_SECONDS``, or
    longer when a cycle's calls would take more than the polls' share of the budget."""
    per_second = limits().background_per_minute * POLL_SHARE / 60
    return max(settings.VPS_POLL_SECONDS, calls_per_cycle / per_second)


def note_poll_load(calls_per_minute: float) -> None:
    """What following the operations in progress costs now (kept a few poll periods)."""
    _client().set(_POLL_LOAD_KEY, f"{calls_per_minute:.3f}", ex=30)


def poll_load() -> float:
    return float(_client().get(_POLL_LOAD_KEY) or 0)


def refresh_period(pages: int) -> float:
    """Seconds between two readings of lists of ``pages`` pages with what polls leave."""
    if pages <= 0:
        return 0.0
    background = limits().background_per_minute
    left = max(background * 0.1, background - poll_load())
    return pages * 60 / (left * REFRESH_SHARE)
