"""The audit log: who changed what, when and from where, one row per change made through the API
or the `fogbank` command. Its newest id doubles as a change counter: open WebSockets re-check
their credentials when it moves (api/sockets.py), also after a change made by another process."""

from __future__ import annotations

from controller.store.models import AuditEntry

MAX_FIELD = 255


async def record(actor: str, action: str, target: str = "", *, address: str = "") -> AuditEntry:
    return await AuditEntry.create(
        actor=actor[:128], action=action[:64], target=target[:MAX_FIELD], address=address[:64]
    )


async def page(limit: int, before: int | None = None) -> list[AuditEntry]:
    """Entries newest first; `before`: only those with a smaller id (the next page)."""
    query = AuditEntry.all() if before is None else AuditEntry.filter(id__lt=before)
    return await query.order_by("-id").limit(limit)


async def latest_id() -> int:
    newest = await AuditEntry.all().order_by("-id").only("id").first()
    return newest.id if newest is not None else 0
