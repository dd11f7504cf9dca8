"""The outbox's delivery loop, owned by the controller: it sends every due message (GitHub's one
at a time, with a pause between them, as GitHub asks; notifications a few at once), retries
failures with exponential backoff, waits out rate limits, and writes each failure to the app's
event log. Messages of one key go in order. Nothing here ever holds up a deployment: the
pipeline only writes rows (notices.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx

from controller.config import Settings
from controller.events.app_events import AppEvents
from controller.notify import github, outbox
from controller.notify.attempt import Attempt
from controller.notify.senders import send_email, send_http
from controller.store.reporting import Channel, NotificationTarget, OutboxMessage
from controller.store.timefmt import utcnow
from controller.telemetry.logcontext import app_context
from controller.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

IDLE_SECONDS = 60.0  # look again at least this often (another process may have written rows)
ERROR_PAUSE_SECONDS = 5.0
GLOBAL_EVENT_LOG = "_notify"  # the event log of messages that belong to no app


class Courier:
    def __init__(self, settings: Settings, metrics: Metrics, app_events: AppEvents) -> None:
        self._settings = settings
        self._metrics = metrics
        self._events = app_events
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._limit = asyncio.Semaphore(settings.notify.concurrency)
        self._github_paused_until = 0.0  # epoch seconds
        self._attempted: dict[int, asyncio.Event] = {}

    def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self._settings.notify.timeout_seconds, follow_redirects=False
        )
        self._task = asyncio.create_task(self._run(), name="fogbank-outbox")

    async def stop(self, timeout_seconds: float) -> None:
        """Finish the round in progress within the bound, then cancel; what was not sent stays
        in the outbox for the next start."""
        self._stopping.set()
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None:
            _, pending = await asyncio.wait({task}, timeout=timeout_seconds)
            if pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def first_attempt_seconds(self) -> float:
        """How long a caller waits for a message's first attempt: the send's own timeout and
        a margin for the round in progress."""
        return self._settings.notify.timeout_seconds + 5.0

    def wake(self) -> None:
        self._wakeup.set()

    async def attempted(self, message_id: int, timeout_seconds: float) -> OutboxMessage:
        """The message once its first attempt is recorded (or as it is after the timeout)."""
        event = self._attempted.setdefault(message_id, asyncio.Event())
        self.wake()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout_seconds)
        finally:
            self._attempted.pop(message_id, None)
        return await OutboxMessage.get(id=message_id)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                delay = await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop boundary: log, pause, keep delivering
                log.exception("outbox round failed")
                delay = ERROR_PAUSE_SECONDS
            if delay > 0 and not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), delay)

    async def _round(self) -> float:
        """Send what is due; seconds until the next message falls due (0: go on at once)."""
        now = utcnow()
        paused = datetime.fromtimestamp(self._github_paused_until, UTC)
        ready: list[OutboxMessage] = []
        later: list[datetime] = []
        for message in await outbox.heads():
            at = message.next_attempt_at
            if message.channel is Channel.GITHUB:
                at = max(at, paused)  # a rate limit holds back every GitHub message
            if at <= now:
                ready.append(message)
            else:
                later.append(at)
        if not ready:
            soonest = min(later, default=now + timedelta(seconds=IDLE_SECONDS))
            return min(IDLE_SECONDS, max(0.01, (soonest - now).total_seconds()))
        to_github = [m for m in ready if m.channel is Channel.GITHUB]
        others = [m for m in ready if m.channel is not Channel.GITHUB]
        await asyncio.gather(self._github_in_turn(to_github), *(self._limited(m) for m in others))
        return 0.0

    async def _github_in_turn(self, messages: list[OutboxMessage]) -> None:
        interval = self._settings.github.request_interval_seconds
        for index, message in enumerate(messages):
            if self._stopping.is_set() or time.time() < self._github_paused_until:
                return
            if index and interval:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), interval)
                if self._stopping.is_set():
                    return
            await self._deliver(message)

    async def _limited(self, message: OutboxMessage) -> None:
        async with self._limit:
            await self._deliver(message)

    async def _deliver(self, message: OutboxMessage) -> None:
        with app_context(message.app_name or GLOBAL_EVENT_LOG):
            try:
                attempt = await self._attempt(message)
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, OSError) as exc:
                attempt = Attempt.failed(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug in one message must not stop the others
                log.exception("outbox message %s failed unexpectedly", message.id)
                attempt = Attempt.failed(f"internal error: {type(exc).__name__}")
            await self._record(message, attempt)
        waiter = self._attempted.get(message.id)
        if waiter is not None:
            waiter.set()

    async def _attempt(self, message: OutboxMessage) -> Attempt:
        assert self._client is not None
        if message.channel is Channel.GITHUB:
            token = await github.token_for(message.app_id, self._settings.github.token)
            attempt, pause = await github.send(
                self._client, self._settings.github.api_url, token, message
            )
            if pause is not None:
                self._github_paused_until = max(self._github_paused_until, pause)
            return attempt
        target = await NotificationTarget.get_or_none(id=message.target_id)
        if target is None:
            return Attempt.failed("the notification target was deleted", permanent=True)
        payload = json.loads(message.payload)
        if target.kind is Channel.EMAIL:
            return await send_email(self._settings.notify, target, payload)
        return await send_http(self._client, target, payload, message.id)

    async def _record(self, message: OutboxMessage, attempt: Attempt) -> None:
        channel = str(message.channel)
        if attempt.ok:
            await outbox.mark_delivered(message)
            self._metrics.outbox_deliveries.inc(channel, "delivered")
            return
        settings = self._settings.notify
        what = describe(message)
        if attempt.rate_limited:
            until = datetime.fromtimestamp(attempt.not_before or time.time(), UTC)
            await outbox.mark_retry(message, message.attempts, attempt.error, until)
            self._metrics.outbox_deliveries.inc(channel, "rate_limited")
            self._record_event(
                message, f"{what}: {attempt.error}; waiting until {until:%H:%M:%S} UTC"
            )
            return
        attempts = message.attempts + 1
        if attempt.permanent or attempts >= settings.max_attempts:
            await outbox.mark_failed(message, attempts, attempt.error)
            self._metrics.outbox_deliveries.inc(channel, "failed")
            self._record_event(
                message, f"{what} failed after {attempts} attempt(s): {attempt.error}"
            )
            return
        wait = outbox.backoff_seconds(
            attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
        at = utcnow() + timedelta(seconds=wait)
        if attempt.not_before is not None:
            at = max(at, datetime.fromtimestamp(attempt.not_before, UTC))
        await outbox.mark_retry(message, attempts, attempt.error, at)
        self._metrics.outbox_deliveries.inc(channel, "retry")
        self._record_event(
            message,
            f"{what} failed ({attempt.error}); attempt {attempts} of {settings.max_attempts}, "
            f"next at {at:%H:%M:%S} UTC",
        )

    def _record_event(self, message: OutboxMessage, text: str) -> None:
        try:
            self._events.record(message.app_name or GLOBAL_EVENT_LOG, text)
        except OSError as exc:
            log.error("could not write the event log of %s: %s", message.app_name, exc)


def describe(message: OutboxMessage) -> str:
    """`GitHub commit_status` / `webhook notification` with what it was about."""
    subject = f" of deployment {message.deployment_id}" if message.deployment_id else ""
    if message.channel is Channel.GITHUB:
        return f"GitHub {message.action.replace('_', ' ')}{subject}"
    return f"{message.channel} notification (target {message.target_id}){subject}"
