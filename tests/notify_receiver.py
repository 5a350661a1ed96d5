"""A local HTTP receiver of webhooks and Apprise ``json://`` posts, for tests and the bench.

It keeps every request it answered 2xx, and can fail a share of requests: ``fail_first`` fails
the next N, ``fail_ratio`` a random share (seeded), either before recording (the sender must
retry) or, with ``fail_after_recording``, after (a repeat the receiver must drop by id);
``alternate`` fails exactly every second request, before and after recording in turn."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    fail_first: int = 0
    fail_ratio: float = 0.0
    fail_after_recording: float = 0.0
    seed: int = 15
    alternate: bool = False
    received: list[Received] = field(default_factory=list)
    requests: int = 0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Receiver:
        rng = random.Random(self.seed)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                item = Received(self.path, dict(self.headers.items()), body)
                with receiver._lock:
                    receiver.requests += 1
                    draw = rng.random()
                    turn = receiver.requests % 4
                    if receiver.fail_first > 0:
                        receiver.fail_first -= 1
                        status = 503
                    elif receiver.alternate and turn in (0, 2):
                        if turn == 0:
                            receiver.received.append(item)
                        status = 502 if turn == 0 else 500
                    elif draw < receiver.fail_after_recording:
                        receiver.received.append(item)
                        status = 502
                    elif draw < receiver.fail_after_recording + receiver.fail_ratio:
                        status = 500
                    else:
                        receiver.received.append(item)
                        status = 200
                    if status >= 300:
                        receiver.failed += 1
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
