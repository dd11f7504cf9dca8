"""Who shares the database: every instance heard of, whether its lease is live, which one runs
the scheduled jobs, and which one is answering (GET /api/instances)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.cluster.member import UPKEEP_LEASE
from controller.store.cluster import Instance, Lease
from controller.store.timefmt import utcnow


@dataclass(frozen=True)
class InstanceView:
    name: str
    api_address: str  # host:port the edge reaches its API at
    started_at: datetime
    heartbeat_at: datetime
    alive: bool  # its lease lies ahead
    leader: bool  # it holds the upkeep lease: drift, polling, retention run there
    answering: bool  # the instance serving this request


async def roster(own: str) -> list[InstanceView]:
    now = utcnow()
    lease = await Lease.get_or_none(name=UPKEEP_LEASE)
    leader = lease.holder if lease is not None and lease.lease_until > now else None
    return [
        InstanceView(
            name=row.name,
            api_address=row.api_address,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            alive=row.lease_until > now,
            leader=row.name == leader,
            answering=row.name == own,
        )
        for row in await Instance.all().order_by("name")
    ]
