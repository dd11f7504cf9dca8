"""A local HTTP server on 127.0.0.1 that plays the remote services fogbank reports to and that
cannot be reached from here: GitHub's REST API (commit statuses, deployments, deployment
statuses), a Slack or Discord incoming webhook, a generic webhook receiver. It records every
request and answers as the real service documents, unless a test queues other answers (a 500,
a 403 with rate-limit headers). It runs in a thread, so in-process tests and tests of a
`fogbank serve` process both use it."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEPLOYMENTS = re.compile(r"^/repos/[^/]+/[^/]+/deployments$")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.time() when it arrived
    status: int  # what was answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Canned:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"message": "canned"}'


@dataclass
class FakeRemote:
    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)
    canned: list[Canned] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer_next(self, *answers: Canned) -> None:
        """The next requests get these answers, in order; after them, the usual ones."""
        with self.lock:
            self.canned.extend(answers)

    def seen(self, path_prefix: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def wait_for(
        self, check: Callable[[list[Recorded]], bool], timeout_seconds: float = 60
    ) -> list[Recorded]:
        """Poll until `check(requests so far)` holds; the requests."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            seen = self.seen()
            if check(seen):
                return seen
            time.sleep(0.05)
        raise AssertionError(f"the fake remote did not see what was expected: {self.seen()}")

    async def until(
        self, check: Callable[[list[Recorded]], bool], timeout_seconds: float = 60
    ) -> list[Recorded]:
        """wait_for for a test running on the event loop (which must keep running meanwhile)."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            seen = self.seen()
            if check(seen):
                return seen
            await asyncio.sleep(0.05)
        raise AssertionError(f"the fake remote did not see what was expected: {self.seen()}")

    def respond(self, method: str, path: str) -> Canned:
        with self.lock:
            if self.canned:
                return self.canned.pop(0)
        if DEPLOYMENTS.fullmatch(path):  # GitHub: 201 with the new deployment's id
            return Canned(201, body=json.dumps({"id": next(self.ids)}))
        if path.startswith("/repos/"):
            return Canned(201, body='{"id": 1, "state": "ok"}')
        return Canned(200, body="ok")  # Slack answers 200 "ok"; webhooks any 2xx

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_fake_remote() -> FakeRemote:
    """Listen on a free loopback port; stop() when done."""
    holder: list[FakeRemote] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            remote = holder[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            answer = remote.respond("POST", self.path)
            payload = answer.body.encode()
            self.send_response(answer.status)
            for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            headers = {name.lower(): value for name, value in self.headers.items()}
            with remote.lock:
                remote.requests.append(
                    Recorded("POST", self.path, headers, body, time.time(), answer.status)
                )

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the recorded list is the log

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    remote = FakeRemote(server)
    holder.append(remote)
    threading.Thread(target=server.serve_forever, name="fake-remote", daemon=True).start()
    return remote
