"""The lease rows, moved only by compare-and-set statements, so they work alike on SQLite and
PostgreSQL: an instance's heartbeat, the instances whose lease ran out, and named leases (the
scheduler's leader) that one holder has at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from controller.store.cluster import Instance, Lease
from controller.store.models import IN_FLIGHT, Deployment
from controller.store.timefmt import utcnow


async def register(name: str, token: str, lease_seconds: float, api_address: str = "") -> None:
    """Take the name for this process (a restart of the same instance takes it back), and say
    where its API answers."""
    now = utcnow()
    until = now + timedelta(seconds=lease_seconds)
    async with in_transaction():
        updated = await Instance.filter(name=name).update(
            token=token,
            started_at=now,
            heartbeat_at=now,
            lease_until=until,
            api_address=api_address,
        )
        if not updated:
            await Instance.create(
                name=name,
                token=token,
                started_at=now,
                heartbeat_at=now,
                lease_until=until,
                api_address=api_address,
            )


async def renew(name: str, token: str, lease_seconds: float) -> bool:
    """Extend this process's lease; False when another process took the name meanwhile."""
    now = utcnow()
    renewed = await Instance.filter(name=name, token=token).update(
        heartbeat_at=now, lease_until=now + timedelta(seconds=lease_seconds)
    )
    return renewed == 1


async def release(name: str, token: str) -> None:
    """A clean stop: the lease ends now, so nothing waits for it to run out."""
    await Instance.filter(name=name, token=token).update(lease_until=utcnow())


async def dead_holders(own: str) -> list[str]:
    """Instances other than `own` that hold in-flight deployments but no live lease (a lease
    that ran out, no row at all, or a claim made before leases existed)."""
    holders = set(
        await Deployment.filter(status__in=IN_FLIGHT)
        .exclude(instance=own)
        .distinct()
        .values_list("instance", flat=True)
    )
    if not holders:
        return []
    alive = set(
        await Instance.filter(
            name__in=[str(h) for h in holders], lease_until__gt=utcnow()
        ).values_list("name", flat=True)
    )
    return sorted(str(h) for h in holders - alive)


async def hold(lease: str, holder: str, lease_seconds: float) -> datetime | None:
    """Take or extend the named lease when it is free, expired, or ours already; its end, or
    None when another holder has it."""
    now = utcnow()
    until = now + timedelta(seconds=lease_seconds)
    mine_or_free = Q(holder=holder) | Q(lease_until__lt=now)
    taken = await Lease.filter(Q(name=lease) & mine_or_free).update(
        holder=holder, lease_until=until
    )
    if taken == 1:
        return until
    if await Lease.exists(name=lease):
        return None
    try:
        async with in_transaction():
            await Lease.create(name=lease, holder=holder, lease_until=until)
    except IntegrityError:  # another instance created it first
        return None
    return until


async def let_go(lease: str, holder: str) -> None:
    """Hand the lease back at a clean stop (the next holder need not wait for it to run out)."""
    await Lease.filter(name=lease, holder=holder).update(lease_until=utcnow())
