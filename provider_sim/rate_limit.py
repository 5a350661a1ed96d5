"""The simulated provider's own rate limit (``VPS_SIM_RATE_LIMIT`` requests a minute, 0 for
none): past it, a 429 with ``Retry-After``, as a provider with a limit answers.

Kept in this process's memory: the simulator is served by one process.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from django.conf import settings

WINDOW_SECONDS = 60.0

_lock = threading.Lock()
_served: deque[float] = deque()
_throttled = [0]


def rate_limit_wait() -> int | None:
    """None when this request is within the limit (it is then counted), else the seconds
    until it would be."""
    limit = settings.VPS_SIM_RATE_LIMIT
    if limit <= 0:
        return None
    now = time.monotonic()
    with _lock:
        while _served and _served[0] <= now - WINDOW_SECONDS:
            _served.popleft()
        if len(_served) >= limit:
            _throttled[0] += 1
            return max(1, math.ceil(_served[0] + WINDOW_SECONDS - now))
        _served.append(now)
        return None


def rate_limit_reset() -> None:
    with _lock:
        _served.clear()
        _throttled[0] = 0


def throttled_count() -> int:
    """Requests answered 429 since the last reset."""
    return _throttled[0]
