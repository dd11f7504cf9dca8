"""Claims on PostgreSQL, where several fogbank instances share one queue: the claimer locks the
app's row (`FOR UPDATE ... SKIP LOCKED`) before it looks for an in-flight deployment and moves
the newest pending one to building, so two instances never build one app at the same time and
neither waits on an app the other is claiming."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from controller.store.db import shared_database
from controller.store.models import IN_FLIGHT, Deployment, Status
from controller.store.timefmt import utcnow

# The app waiting longest that has pending work, none in flight, and is not locked by another
# claimer. The in-flight test is repeated under the lock: this statement's snapshot predates it.
LOCK_NEXT_APP = """
SELECT a.id FROM app a
JOIN (
  SELECT app_id, MIN(id) AS first_id FROM deployment WHERE status = 'pending' GROUP BY app_id
) waiting ON waiting.app_id = a.id
WHERE a.id <> ALL($1::int[])
  AND NOT EXISTS (
    SELECT 1 FROM deployment d WHERE d.app_id = a.id AND d.status IN ('building', 'deploying')
  )
ORDER BY waiting.first_id
LIMIT 1
FOR UPDATE OF a SKIP LOCKED
"""
ATTEMPTS = 5  # an app found in flight under the lock is skipped; the next one is tried


def shared_queue() -> bool:
    """True on PostgreSQL: the queue may be shared with other instances."""
    return shared_database()


async def claim_locked(busy_app_ids: set[int], instance: str) -> Deployment | None:
    """Move the newest pending deployment of the app waiting longest to building; None when
    there is nothing to claim. Older pending ones are left to the caller to supersede."""
    skipped = set(busy_app_ids)
    for _ in range(ATTEMPTS):
        async with in_transaction() as connection:
            rows = await connection.execute_query_dict(LOCK_NEXT_APP, [sorted(skipped)])
            if not rows:
                return None
            app_id = int(rows[0]["id"])
            # A fresh statement sees every claim committed before this lock was granted.
            if await Deployment.filter(app_id=app_id, status__in=IN_FLIGHT).exists():
                skipped.add(app_id)
                continue
            newest = (
                await Deployment.filter(app_id=app_id, status=Status.PENDING)
                .order_by("-id")
                .first()
            )
            if newest is None:  # stopped since the lock's snapshot
                skipped.add(app_id)
                continue
            now = utcnow()
            claimed = await Deployment.filter(id=newest.id, status=Status.PENDING).update(
                status=Status.BUILDING, started_at=now, updated_at=now, instance=instance
            )
            if claimed != 1:  # stopped meanwhile (a stop does not take the app's lock)
                skipped.add(app_id)
                continue
            newest.status, newest.started_at, newest.updated_at = Status.BUILDING, now, now
            newest.instance = instance
            return newest
    return None
