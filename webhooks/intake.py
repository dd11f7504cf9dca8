"""Group commit for webhook deliveries.

Requests hand their verified, parsed delivery to the intake and wait for its answer. One owned task
takes everything that arrived while the previous batch was being written and handles it as one
batch (webhooks/dispatch.py): one transaction and one commit for the lot. A lone delivery is
written at once; under a burst the batch grows by itself, with no timer and no added delay.
Each answer is sent only after its batch committed, so an acknowledged delivery is recorded as
durably as the database promises (for SQLite, database.sqlite_synchronous).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from controller.deploy.requests import RequestFn
from controller.errors import FogbankError, ServiceUnavailable
from webhooks.dispatch import Received, handle_batch
from webhooks.plan import Answer

log = logging.getLogger(__name__)

MAX_BATCH = 200  # deliveries per transaction; keeps each IN (...) list and insert modest
Waiting = tuple[Received, "asyncio.Future[Answer]"]


class DeliveryIntake:
    def __init__(self, *, request: RequestFn) -> None:
        self._request = request
        self._waiting: list[Waiting] = []
        self._arrived = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written so far (fewer than deliveries under load)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-intake")

    async def submit(self, received: Received) -> Answer:
        """The delivery's answer, once it is recorded; its error (400...) is raised."""
        if self._closing or self._task is None:
            raise ServiceUnavailable(
                "the server is shutting down; GitHub will show a failed delivery to redeliver"
            )
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((received, answer))
        self._arrived.set()
        return await answer

    async def close(self, timeout_seconds: float) -> None:
        """Answer what is waiting (new deliveries get 503), then stop the task."""
        self._closing = True
        self._arrived.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            async with asyncio.timeout(timeout_seconds):
                await asyncio.shield(task)
        except TimeoutError:
            log.error("webhook intake did not finish within %s s; cancelling it", timeout_seconds)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, answer in self._waiting:
            if not answer.done():
                answer.set_exception(
                    ServiceUnavailable("the server stopped before recording this delivery")
                )
        self._waiting.clear()

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._answer(batch)
            if self._closing:
                return

    async def _answer(self, batch: list[Waiting]) -> None:
        try:
            outcomes, _ = await handle_batch(
                [received for received, _ in batch], request=self._request
            )
        except Exception as exc:  # the loop boundary: fail this batch, keep taking deliveries
            log.exception("webhook batch of %d deliveries failed", len(batch))
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        self.batches += 1
        for (_, answer), outcome in zip(batch, outcomes, strict=True):
            if answer.done():
                continue  # its request was cancelled (the sender hung up); it is recorded
            if isinstance(outcome, FogbankError):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome)
