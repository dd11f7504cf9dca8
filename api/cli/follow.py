"""Following a server's WebSocket through dropped connections and server restarts: reconnect
with the position already seen (?after=<seq> for a build log, ?since=<time> for app logs), so no
line is lost or shown twice; give up with exit 3 when the server stays away."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import connect

from api.cli.errors import FAILED, FORBIDDEN, UNREACHABLE, CliError
from api.cli.http import Api, reason, unreachable

Frame = dict[str, Any]
# How long to keep trying after a connection that worked was lost (a restart takes seconds).
RECONNECT_SECONDS = 300.0
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)
# Close codes after which reconnecting cannot help.
FATAL_CLOSES = {
    4400: ("the server refused the request", FAILED),
    4401: ("not authenticated", UNREACHABLE),
    4403: ("your role may not watch this", FORBIDDEN),
    4404: ("not found", FAILED),
}
CLOSE_NORMAL = 1000


class Position(Protocol):
    """Where a follow is, so a new connection goes on from there."""

    def params(self) -> dict[str, Any]: ...

    def take(self, frame: Frame) -> bool:
        """Whether to show the frame (False: already shown before a reconnect)."""


class BuildLogPosition:
    """A deployment's socket: log frames carry a seq. The server closes it (1000) after the
    final status; the status sent first on connecting may be final already, with lines still
    to come after it."""

    def __init__(self, deployment_id: int, after: int = 0) -> None:
        self.deployment_id = deployment_id
        self.last_seq = after

    def params(self) -> dict[str, Any]:
        return {"deploymentId": self.deployment_id, "after": self.last_seq}

    def take(self, frame: Frame) -> bool:
        if frame.get("type") != "log":
            return True
        seq = int(frame["data"]["seq"])
        if seq <= self.last_seq:
            return False
        self.last_seq = seq
        return True


class AppLogPosition:
    """An app's socket: log frames carry the time the container wrote them; it never ends by
    itself (only when the app is deleted: the server then closes 1000)."""

    def __init__(self, app_id: int, tail: int, since: str | None) -> None:
        self.app_id = app_id
        self.tail = tail
        self.since = since
        self.resumed = False

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"appId": self.app_id, "tail": self.tail}
        if self.since:
            params["since"] = self.since
        return params

    def take(self, frame: Frame) -> bool:
        if frame.get("type") == "log":
            self.since = str(frame["timestamp"])
            # After a reconnect every line after the last one seen, not only the last `tail`.
            self.tail = 5000
        return True


def follow(
    api: Api,
    path: str,
    position: Position,
    on_frame: Callable[[Frame], None],
    on_notice: Callable[[str], None],
    *,
    reconnect_seconds: float = RECONNECT_SECONDS,
) -> None:
    """Show every frame of the socket at `path` once, until the server ends it with a normal
    close. A first connection that fails is an error at once; a lost one is tried again for
    `reconnect_seconds`."""
    connected_once = False
    lost_at: float | None = None
    attempt = 0
    while True:
        url = api.socket_url(path, position.params())
        code: int | None = None
        why = ""
        try:
            with connect(url, additional_headers=api.auth_headers, open_timeout=10) as socket:
                if lost_at is not None:
                    on_notice("reconnected")
                lost_at, attempt, connected_once = None, 0, True
                try:
                    for message in socket:
                        frame: Frame = json.loads(message)
                        if position.take(frame):
                            on_frame(frame)
                    code = socket.close_code
                    why = socket.close_reason or ""
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd else None
                    why = closed.rcvd.reason if closed.rcvd else reason(closed)
        except InvalidStatus as refused:
            raise CliError(
                f"{api.url}{path}: the server answered HTTP {refused.response.status_code}", FAILED
            ) from refused
        except (OSError, TimeoutError, WebSocketException) as exc:
            if not connected_once:
                raise unreachable(api.url, exc) from exc
            why = reason(exc)
        if code in FATAL_CLOSES:
            text, exit_code = FATAL_CLOSES[code]
            raise CliError(f"{api.url}: {why or text}", exit_code)
        if code == CLOSE_NORMAL:
            return
        if lost_at is None:
            lost_at = time.monotonic()
            on_notice(f"connection lost ({why or f'close {code}'}); reconnecting")
        elif time.monotonic() - lost_at > reconnect_seconds:
            raise CliError(
                f"lost {api.url} and could not reconnect for {reconnect_seconds:.0f} s", UNREACHABLE
            )
        time.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
        attempt += 1
