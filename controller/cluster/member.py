"""This instance among those sharing one database: it holds a lease renewed by a heartbeat
task, takes over the in-flight work of instances whose lease ran out, and tells the scheduler
whether it leads (only the leader runs the scheduled jobs). Owned by the controller: joined at
start, stopped after the workers (the lease must outlive their drain)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable

from controller.cluster import leases
from controller.config import ClusterSettings

log = logging.getLogger(__name__)

UPKEEP_LEASE = "upkeep"
STOP_SECONDS = 5.0

TakeOver = Callable[[list[str]], Awaitable[None]]


class Member:
    def __init__(
        self, name: str, settings: ClusterSettings, take_over: TakeOver, api_address: str = ""
    ) -> None:
        self.name = name
        self._api_address = api_address  # where the edge reaches this instance's API
        self._lease_seconds = settings.lease_seconds
        self._heartbeat_seconds = settings.heartbeat_seconds
        self._take_over = take_over
        self._token = secrets.token_hex(16)  # this process, as against an earlier one
        self._leads_until = 0.0  # loop time when our hold on the upkeep lease may have ended
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._joined = False

    def leads(self) -> bool:
        """Whether this instance holds the upkeep lease now (its scheduled jobs may run)."""
        return asyncio.get_running_loop().time() < self._leads_until

    async def join(self) -> None:
        """Take this instance's name and, if free, the upkeep lease; before recovery."""
        await leases.register(self.name, self._token, self._lease_seconds, self._api_address)
        self._joined = True
        log.info("cluster: instance %s joined", self.name)
        await self._lead()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._work(), name="fogbank-cluster-heartbeat")

    async def stop(self) -> None:
        """End the heartbeat, then hand back the leases so others need not wait them out."""
        self._stopping.set()
        if self._task is not None:
            task, self._task = self._task, None
            _, pending = await asyncio.wait({task}, timeout=STOP_SECONDS)
            if pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._leads_until = 0.0
        if not self._joined:
            return
        self._joined = False
        try:
            await leases.let_go(UPKEEP_LEASE, self.name)
            await leases.release(self.name, self._token)
        except Exception:  # the database may be gone; the leases then simply run out
            log.exception("cluster: could not release the leases of %s", self.name)

    async def beat(self) -> None:
        """One heartbeat: renew the lease and lead if the upkeep lease is free; then take over
        the work of dead instances."""
        await self._keep_lease()
        await self._take_over_dead()

    async def _keep_lease(self) -> None:
        if not await leases.renew(self.name, self._token, self._lease_seconds):
            log.error(
                "cluster: another process took the instance name %s; two instances must not "
                "share a name (cluster.instance)",
                self.name,
            )
            return
        await self._lead()

    async def _take_over_dead(self) -> None:
        dead = await leases.dead_holders(self.name)
        if dead:
            log.warning("cluster: taking over the deployments of %s", ", ".join(dead))
            await self._take_over(dead)

    async def _lead(self) -> None:
        asked_at = asyncio.get_running_loop().time()
        leading = self.leads()
        until = await leases.hold(UPKEEP_LEASE, self.name, self._lease_seconds)
        # Counted from before the statement: we never believe we lead longer than the row says.
        self._leads_until = asked_at + self._lease_seconds if until is not None else 0.0
        if (until is not None) != leading:
            log.info("cluster: %s %s the scheduled jobs", self.name,
                     "now runs" if until is not None else "no longer runs")  # fmt: skip

    async def _work(self) -> None:
        # Two loops: a takeover (cleanup, drain) must never hold up our own renewals.
        await asyncio.gather(self._every(self._keep_lease), self._every(self._take_over_dead))

    async def _every(self, job: Callable[[], Awaitable[None]]) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._heartbeat_seconds)
                return
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The loop boundary: a failed round is retried at the next one.
                log.exception("cluster: %s of %s failed", job.__name__, self.name)
