"""`fogbank backup PATH` and `fogbank restore PATH` (controller/store/backup.py does the work)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from controller.config import Settings
from controller.store import backup as archive


def _rows(rows: dict[str, int]) -> str:
    return ", ".join(f"{table} {count}" for table, count in rows.items())


async def backup(settings: Settings, path: Path) -> int:
    report = await asyncio.to_thread(archive.backup, settings, path)
    print(f"backup written to {report.path} ({report.files} files)")
    print(f"rows: {_rows(report.rows)}")
    return 0


async def restore(settings: Settings, path: Path, *, force: bool) -> int:
    report = await asyncio.to_thread(archive.restore, settings, path, force=force)
    print(f"restored {report.path} ({report.files} files); start fogbank to use it")
    print(f"rows: {_rows(report.rows)}")
    return 0
