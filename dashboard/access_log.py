"""gunicorn's access log for a console (``make run``): one short line per request, and the
requests nobody made by hand only at DEBUG.

Routine requests are the status polls an open page makes by itself (the ``X-Dashboard-Poll``
header), health checks and static files. Used with ``--logger-class`` and ``--log-level``;
``--log-level debug`` shows the routine requests too.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from gunicorn import glogging

ROUTINE_PATH_PREFIXES = ("/health/", "/static/")
BACKGROUND_HEADER = "HTTP_X_DASHBOARD_POLL"


def is_routine(environ: dict[str, Any]) -> bool:
    path = environ.get("PATH_INFO") or ""
    return bool(environ.get(BACKGROUND_HEADER)) or path.startswith(ROUTINE_PATH_PREFIXES)


def request_line(environ: dict[str, Any], status: object, request_time: timedelta) -> str:
    """``GET /activity/?kind=create 200 12 ms``"""
    path = environ.get("PATH_INFO") or "/"
    query = environ.get("QUERY_STRING") or ""
    code = str(status).split(None, 1)[0]
    milliseconds = round(request_time.total_seconds() * 1000)
    target = f"{path}?{query}" if query else path
    return f"{environ.get('REQUEST_METHOD', '-')} {target} {code} {milliseconds} ms"


class ShortAccessLog(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # gunicorn pins its access log at INFO; follow --log-level so debug shows routine ones.
        self.access_log.setLevel(min(self.loglevel, logging.INFO))

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        level = logging.DEBUG if is_routine(environ) else logging.INFO
        if self.access_log.isEnabledFor(level):
            self.access_log.log(level, "%s", request_line(environ, resp.status, request_time))
