"""What the logs say at INFO: requests in one short line, operations started and finished,
problems; routine work (beat's ticks, the polls, health checks, status requests) at DEBUG."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from celery.app import trace
from django.utils import timezone

from dashboard.access_log import ShortAccessLog, is_routine, request_line
from dashboard.logging import RoutineTasksAtDebug
from snapshots_ui import services
from snapshots_ui.audit import SYSTEM, Actor, audit_record
from snapshots_ui.statuses import OperationState
from tests.factories import OperationFactory
from tests.service_helpers import WEB

DISPATCH = "snapshots_ui.tasks.dispatch_polls"
POLL = "snapshots_ui.tasks.poll_server"


def celery_record(logger: str, msg: str, args: tuple | dict) -> logging.LogRecord:
    """A record as Celery makes it: a dict of arguments is passed alone, as its own args."""
    args = (args,) if isinstance(args, dict) else args
    return logging.LogRecord(logger, logging.INFO, __file__, 1, msg, args, None)


ROUTINE_RECORDS = [
    ("celery.beat", "Scheduler: Sending due task %s (%s)", ("dispatch-polls", DISPATCH)),
    ("celery.worker.strategy", trace.LOG_RECEIVED, {"name": POLL, "id": "1"}),
    ("celery.app.trace", trace.LOG_SUCCESS, {"name": DISPATCH, "id": "1", "runtime": 0.01,
                                             "return_value": 0}),
]  # fmt: skip


@pytest.fixture
def celery_loggers_at(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Set the level of Celery's loggers for one test."""
    names = ["celery.beat", "celery.worker.strategy", "celery.app.trace"]
    before = {name: logging.getLogger(name).level for name in names}

    def set_level(level: int) -> None:
        for name in names:
            logging.getLogger(name).setLevel(level)

    yield set_level
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize(("logger", "msg", "args"), ROUTINE_RECORDS)
def test_routine_tasks_are_not_logged_at_info(celery_loggers_at, logger, msg, args) -> None:
    celery_loggers_at(logging.INFO)
    record = celery_record(logger, msg, args)

    assert RoutineTasksAtDebug().filter(record) is False


@pytest.mark.parametrize(("logger", "msg", "args"), ROUTINE_RECORDS)
def test_routine_tasks_are_logged_at_debug(celery_loggers_at, logger, msg, args) -> None:
    celery_loggers_at(logging.DEBUG)
    record = celery_record(logger, msg, args)

    assert RoutineTasksAtDebug().filter(record) is True
    assert (record.levelno, record.levelname) == (logging.DEBUG, "DEBUG")


def test_retries_and_other_tasks_keep_their_level(celery_loggers_at) -> None:
    celery_loggers_at(logging.INFO)
    retry = celery_record("celery.app.trace", trace.LOG_RETRY, {"name": POLL, "exc": "503"})
    other = celery_record("celery.app.trace", trace.LOG_SUCCESS, {"name": "other.task"})

    assert RoutineTasksAtDebug().filter(retry) is True
    assert RoutineTasksAtDebug().filter(other) is True
    assert retry.levelno == other.levelno == logging.INFO


def test_the_settings_attach_the_filter_to_celerys_loggers() -> None:
    for name in ["celery.beat", "celery.worker.strategy", "celery.app.trace"]:
        filters = logging.getLogger(name).filters
        assert any(isinstance(f, RoutineTasksAtDebug) for f in filters), name


# --- The web server's access log ----------------------------------------------------------------


def environ(path: str, query: str = "", **headers: str) -> dict[str, str]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, **headers}


def test_a_request_is_one_short_line() -> None:
    line = request_line(environ("/activity/", "kind=create"), "200 OK", timedelta(seconds=0.0123))

    assert line == "GET /activity/?kind=create 200 12 ms"


@pytest.mark.parametrize(
    ("request_environ", "routine"),
    [
        (environ("/servers/12345/"), False),
        (environ("/operations/7/", HTTP_X_DASHBOARD_POLL="1"), True),
        (environ("/health/"), True),
        (environ("/health/provider/"), True),
        (environ("/static/css/app.css"), True),
    ],
)
def test_routine_requests(request_environ: dict[str, str], routine: bool) -> None:
    assert is_routine(request_environ) is routine


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_log():  # type: ignore[no-untyped-def]
    """gunicorn's access logger as `make run` configures it, given a --log-level, with the
    lines it writes collected in ``.lines``."""
    from gunicorn.config import Config

    made: list[ShortAccessLog] = []

    def make(level: str) -> tuple[ShortAccessLog, Lines]:
        config = Config()
        config.set("accesslog", "-")
        config.set("loglevel", level)
        log = ShortAccessLog(config)
        made.append(log)
        collected = Lines()
        log.access_log.addHandler(collected)
        return log, collected

    yield make
    for log in made:
        for logger in (log.access_log, log.error_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)


@pytest.mark.parametrize(("level", "shown"), [("info", ["GET /servers/1/ 200 5 ms"]),
                                              ("debug", ["GET /servers/1/ 200 5 ms",
                                                         "GET /health/ 200 5 ms"])])  # fmt: skip
def test_the_access_log_shows_routine_requests_at_debug_only(
    access_log, level: str, shown: list[str]
) -> None:
    log, collected = access_log(level)
    response = SimpleNamespace(status="200 OK")
    for path in ["/servers/1/", "/health/"]:
        log.access(response, None, environ(path), timedelta(milliseconds=5))

    assert collected.lines == shown


# --- Operations started and finished ------------------------------------------------------------


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "snapshots_ui.audit"]


def test_an_operation_started_is_logged_once_committed(
    seeded_simulator, operator, queued_polls, django_capture_on_commit_callbacks, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="snapshots_ui.audit")
    with django_capture_on_commit_callbacks(execute=True):
        operation = services.snapshot_create(
            actor=Actor(user=operator, ip="203.0.113.7"), server_id=WEB, name="pre-upgrade"
        )

    assert audit_lines(caplog) == [
        ("INFO", f"snapshot.create.started: create web-server-01 / pre-upgrade "
                 f"(operation {operation.pk}, by omar)"),
    ]  # fmt: skip


def test_an_operation_finished_says_how_long_it_took_and_why_it_failed(
    db: None, django_capture_on_commit_callbacks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="snapshots_ui.audit")
    started = timezone.now() - timedelta(seconds=372)
    done = OperationFactory(snapshot_name="a", state=OperationState.SUCCEEDED,
                            started_at=started, finished_at=timezone.now())  # fmt: skip
    failed = OperationFactory(snapshot_name="b", state=OperationState.FAILED,
                              started_at=started, finished_at=timezone.now())  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        audit_record(actor=SYSTEM, action="operation.succeeded", operation=done, detail="ok")
        audit_record(actor=SYSTEM, action="operation.failed", operation=failed,
                     detail="Disk full.\nInjected: line")  # fmt: skip

    assert audit_lines(caplog) == [
        ("INFO", f"operation.succeeded: create web-server-01 / a (operation {done.pk}, "
                 "by system, 372 s)"),
        ("WARNING", f"operation.failed: create web-server-01 / b (operation {failed.pk}, "
                    "by system, 372 s): Disk full. Injected: line"),
    ]  # fmt: skip


def test_nothing_is_logged_for_a_transaction_rolled_back(
    db: None, django_capture_on_commit_callbacks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="snapshots_ui.audit")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        audit_record(actor=SYSTEM, action="operation.succeeded", operation=OperationFactory())

    assert len(callbacks) == 1
    assert audit_lines(caplog) == []
