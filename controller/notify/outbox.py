"""The outbox table's queries: which messages are due, how an attempt is recorded, the backlog
and retention."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from tortoise.functions import Count

from controller.store.reporting import Channel, MessageState, OutboxMessage
from controller.store.timefmt import utcnow

# Pending messages looked at per round: the oldest first, so nothing starves for long.
SCAN_LIMIT = 500


async def heads() -> list[OutboxMessage]:
    """The first pending message of each key (later ones of a key wait for it), oldest first."""
    pending = (
        await OutboxMessage.filter(state=MessageState.PENDING).order_by("id").limit(SCAN_LIMIT)
    )
    first: dict[str, OutboxMessage] = {}
    for message in pending:
        first.setdefault(message.key, message)
    return list(first.values())


def backoff_seconds(attempts: int, base: float, ceiling: float) -> float:
    """base, 2 base, 4 base... after the 1st, 2nd, 3rd failed attempt; at most `ceiling`."""
    exponent = min(attempts - 1, 60)
    return min(ceiling, base * math.pow(2, exponent))


async def mark_delivered(message: OutboxMessage) -> None:
    await OutboxMessage.filter(id=message.id).update(
        state=MessageState.DELIVERED,
        attempts=message.attempts + 1,
        finished_at=utcnow(),
        last_error="",
    )


async def mark_failed(message: OutboxMessage, attempts: int, error: str) -> None:
    await OutboxMessage.filter(id=message.id).update(
        state=MessageState.FAILED, attempts=attempts, finished_at=utcnow(), last_error=error
    )


async def mark_retry(message: OutboxMessage, attempts: int, error: str, at: datetime) -> None:
    await OutboxMessage.filter(id=message.id).update(
        attempts=attempts, next_attempt_at=at, last_error=error
    )


async def backlog() -> dict[tuple[str, ...], float]:
    """Pending messages per channel (every channel, 0 when none)."""
    counts: dict[tuple[str, ...], float] = {(str(channel),): 0.0 for channel in Channel}
    rows = (
        await OutboxMessage.filter(state=MessageState.PENDING)
        .annotate(count=Count("id"))
        .group_by("channel")
        .values_list("channel", "count")
    )
    counts.update({(str(channel),): float(str(count)) for channel, count in rows})
    return counts


async def prune(keep_days: int) -> int:
    """Forget messages that ended (delivered or failed) more than `keep_days` ago."""
    cutoff = utcnow() - timedelta(days=keep_days)
    return await OutboxMessage.filter(
        state__in=(MessageState.DELIVERED, MessageState.FAILED), finished_at__lt=cutoff
    ).delete()
