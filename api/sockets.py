"""Open WebSockets lose their credentials like any request does: a revoked or expired token, an
ended session, a disabled user. Each socket registers what it authenticated with; once a second
this watch compares the newest audit entry (every change to accounts writes one, also from the
`fogbank` command in another process) and, when it moved, checks every registered credential
again; expiry is checked in memory. A socket whose credential ended is told at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from controller.accounts import audit, auth
from controller.store.timefmt import utcnow

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 1.0


@dataclass(eq=False)
class _Watched:
    credential: auth.Credential
    ended: Callable[[], None]
    done: bool = field(default=False)


class CredentialWatch:
    def __init__(self, interval_seconds: float = CHECK_INTERVAL_SECONDS) -> None:
        self._interval = interval_seconds
        self._watched: set[_Watched] = set()
        self._task: asyncio.Task[None] | None = None
        self._marker = 0

    @contextlib.contextmanager
    def watch(self, credential: auth.Credential, ended: Callable[[], None]) -> Iterator[None]:
        """While the block runs, call `ended` (once) when the credential stops being valid."""
        entry = _Watched(credential, ended)
        self._watched.add(entry)
        try:
            yield
        finally:
            self._watched.discard(entry)

    async def start(self) -> None:
        self._marker = await audit.latest_id()
        self._task = asyncio.create_task(self._run(), name="credential-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception:
                log.exception("checking the credentials of open WebSockets failed")

    async def check(self) -> None:
        """One round: expired credentials always; every credential when accounts changed."""
        now = utcnow()
        for entry in list(self._watched):
            expires = entry.credential.expires_at
            if expires is not None and expires <= now:
                self._end(entry)
        marker = await audit.latest_id()
        if marker == self._marker:
            return
        self._marker = marker
        verdicts: dict[tuple[str, str], bool] = {}  # many sockets may share one credential
        for entry in list(self._watched):
            key = (entry.credential.kind, entry.credential.digest)
            if key not in verdicts:
                verdicts[key] = await auth.still_valid(entry.credential)
            if not verdicts[key]:
                self._end(entry)

    def _end(self, entry: _Watched) -> None:
        if not entry.done:
            entry.done = True
            entry.ended()
