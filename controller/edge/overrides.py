"""The edge's state that every instance sharing it must see alike, kept in the database: the
route overrides (a candidate being switched to, an app's Swarm tasks), the other instances' API
addresses, and the lock under which one instance at a time computes and applies the routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection
from datetime import timedelta

from tortoise.transactions import in_transaction

from controller.store.cluster import EdgeOverride, Instance
from controller.store.db import shared_database
from controller.store.timefmt import utcnow

# pg_advisory_xact_lock's key for "writing the edge's routes" (any constant no other lock uses).
WRITER_LOCK_KEY = 0x46_6F_67_45  # "FogE"
# An instance not heard of for this long leaves the API's upstreams (until then the edge's
# health checks skip it): a restart or a crash does not reload the front, a removal does.
FORGET_PEERS_AFTER = timedelta(hours=24)


@contextlib.asynccontextmanager
async def one_writer() -> AsyncIterator[None]:
    """On PostgreSQL, hold the edge writer lock for the block: another instance computing and
    applying routes waits, and sees what this one committed. The lock ends with the transaction,
    also when the process dies. SQLite has one instance; its caller's own lock suffices."""
    if not shared_database():
        yield
        return
    async with in_transaction() as connection:
        await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [WRITER_LOCK_KEY])
        yield


async def current() -> dict[int, tuple[int, ...]]:
    """App id -> the upstream ports its traffic goes to instead of its active deployment."""
    return {row.app_id: _ports(row.ports) for row in await EdgeOverride.all()}


async def ports_of(app_id: int) -> tuple[int, ...] | None:
    row = await EdgeOverride.get_or_none(app_id=app_id)
    return None if row is None else _ports(row.ports)


async def put(app_id: int, ports: tuple[int, ...], instance: str) -> None:
    joined = ",".join(str(port) for port in ports)
    await EdgeOverride.update_or_create(
        defaults={"ports": joined, "instance": instance}, app_id=app_id
    )


async def drop(app_id: int) -> None:
    await EdgeOverride.filter(app_id=app_id).delete()


async def drop_set_by(instances: Collection[str] | None) -> int:
    """Forget the overrides these instances set (None: every one); how many went."""
    query = EdgeOverride.all() if instances is None else EdgeOverride.filter(instance__in=instances)
    return int(await query.delete())


async def peers(own_address: str) -> tuple[str, ...]:
    """The API addresses of the other instances heard of lately, sorted."""
    since = utcnow() - FORGET_PEERS_AFTER
    found = (
        await Instance.filter(heartbeat_at__gt=since)
        .exclude(api_address="")
        .values_list("api_address", flat=True)
    )
    return tuple(sorted({str(address) for address in found} - {own_address}))


def _ports(joined: str) -> tuple[int, ...]:
    return tuple(int(port) for port in joined.split(",") if port)
