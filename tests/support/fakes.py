"""Hand-written fakes of the controller's internal protocols, for tests of one part alone."""

from __future__ import annotations

from collections.abc import Iterable

from controller.deploy.inflight import RunControl


class IdleWorkers:
    """The worker pool as the request door sees it, with nothing running: counts the wakes."""

    def __init__(self) -> None:
        self.wakes = 0

    def running(self, app_id: int) -> RunControl | None:
        return None

    def wake(self, app_ids: Iterable[int] = ()) -> None:
        self.wakes += 1

    async def announce_superseded(self, app_id: int, newest_number: int) -> None:
        return None
