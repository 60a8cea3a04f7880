"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread that records every request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    number: int
    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.event["id"]


class Receiver:
    """Answers each request with `answer(number, event)` (200 unless told otherwise), after `delay` seconds.

    With `hold_at=n`, the n-th request waits (unanswered) until `release()`, and `held` is set when it
    arrives: a test can stop a worker in the middle of that delivery. `overlaps` lists event ids that were
    being received twice at the same moment.
    """

    def __init__(self, answer: Callable[[int, dict[str, Any]], int] | None = None, *, delay: float = 0.0,
                 hold_at: int | None = None) -> None:
        self.answer = answer or (lambda _n, _e: 200)
        self.delay, self.hold_at = delay, hold_at
        self.received: list[Received] = []
        self.overlaps: list[str] = []
        self.held, self._released = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._arrivals = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                event = json.loads(body)
                with receiver._lock:
                    receiver._arrivals += 1
                    number = receiver._arrivals
                    if receiver._in_flight.get(event["id"]):
                        receiver.overlaps.append(event["id"])
                    receiver._in_flight[event["id"]] = receiver._in_flight.get(event["id"], 0) + 1
                try:
                    if receiver.hold_at == number:
                        receiver.held.set()
                        receiver._released.wait(timeout=60)
                    if receiver.delay:
                        time.sleep(receiver.delay)
                    status = receiver.answer(number, event)
                    with receiver._lock:
                        receiver.received.append(Received(number, body, dict(self.headers.items()), status))
                finally:
                    with receiver._lock:
                        receiver._in_flight[event["id"]] -= 1
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the worker is gone (killed mid-delivery)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def release(self) -> None:
        self._released.set()

    def statuses_of(self, event_id: str) -> list[int]:
        return [r.status for r in self.received if r.event_id == event_id]

    def acknowledged(self) -> list[str]:
        """Event ids answered with 2xx, in the order their answers were given."""
        return [r.event_id for r in self.received if 200 <= r.status < 300]

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release()
            self.server.shutdown()
            self.server.server_close()


def wait_until(condition: Callable[[], bool], *, seconds: float = 60, what: str = "the condition") -> None:
    """Poll `condition` until it holds; fail after `seconds` (a bound on a hang, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.05)
