"""Serve the simulator over HTTP from a background thread (tests and ``manage.py provider_sim``).

The simulator runs with the project's settings and middleware but answers from its own
URLconf, so the dashboard's URLconf never includes it.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.http import HttpResponseBase


class SimulatorWSGIHandler(WSGIHandler):
    """The project's WSGI handler, answering from ``provider_sim.urls``.

    ``stopping`` is set when the server stops; requests held by an injected delay wait on it,
    so that they end at once instead of holding up the shutdown.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopping = threading.Event()

    def get_response(self, request: WSGIRequest) -> HttpResponseBase:
        request.urlconf = "provider_sim.urls"
        request.simulator_stopping = self.stopping  # type: ignore[attr-defined]
        return super().get_response(request)


class _RequestHandler(WSGIRequestHandler):
    # Without it a kept-alive connection waits for the client's delayed ACK (~40 ms) between
    # the headers and the body of every answer: a delay the real provider does not add.
    disable_nagle_algorithm = True


class _QuietRequestHandler(_RequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


# Connection threads are named "<this>-<port>", so that one can tell whether any is left.
CONNECTION_THREAD = "provider-simulator-connection"


class _SimulatorHTTPServer(ThreadedWSGIServer):
    """A thread per connection, and a way to end them all when the server stops.

    Django's server closes the thread's database connections after each connection.
    """

    daemon_threads = True
    block_on_close = False  # ``close_connections`` waits instead, with a limit

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{CONNECTION_THREAD}-{self.server_address[1]}",
            daemon=True,
        )
        with self._lock:
            self._connections[request] = thread
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.pop(request, None)

    def close_connections(self, timeout: float) -> None:
        """Stop reading from every open connection (ending idle keep-alives) and wait."""
        with self._lock:
            open_connections = list(self._connections.items())
        for sock, _thread in open_connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
        deadline = time.monotonic() + timeout
        for _sock, thread in open_connections:
            thread.join(max(0.0, deadline - time.monotonic()))


@dataclass(frozen=True)
class RunningSimulator:
    root_url: str  # http://127.0.0.1:PORT/
    base_url: str  # http://127.0.0.1:PORT/api/v1/
    token: str
    stop: Callable[[], None]


def _url_host(host: str) -> str:
    """The host to put in a URL for a server bound to ``host``."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - naming the wildcard, not binding to it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True
) -> RunningSimulator:
    """Serve the simulator on ``host:port`` (0: a free port) from a daemon thread.

    ``stop()`` wakes requests held by injected delays, ends open connections, waits for their
    threads (which close their database connections) and closes the socket. It may be called
    more than once.
    """
    handler = SimulatorWSGIHandler()
    httpd = _SimulatorHTTPServer(
        (host, port),
        _QuietRequestHandler if quiet else _RequestHandler,
        ipv6=":" in host,
        allow_reuse_address=port != 0,
    )
    httpd.set_app(handler)
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="provider-simulator",
        daemon=True,
    )
    thread.start()
    root_url = f"http://{_url_host(host)}:{httpd.server_address[1]}/"

    stop_lock = threading.Lock()

    def stop() -> None:
        with stop_lock:
            if handler.stopping.is_set():
                return
            handler.stopping.set()
            httpd.shutdown()
            httpd.close_connections(timeout=10)
            httpd.server_close()
            thread.join()

    return RunningSimulator(
        root_url=root_url,
        base_url=f"{root_url}api/v1/",
        token=settings.VPS_SIM_TOKEN,
        stop=stop,
    )
