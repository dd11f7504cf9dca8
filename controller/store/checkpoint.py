"""SQLite write-ahead-log checkpoints, off the request path.

SQLite checkpoints from inside the COMMIT that grows the WAL past wal_autocheckpoint pages,
holding fogbank's one connection meanwhile. Instead a periodic job checkpoints from a second,
short-lived connection in a thread, in PASSIVE mode (never waits for nor blocks the serving
connection); the automatic checkpoint stays as a safety net at a larger size (the default
database.url in controller/config.py). Figures: BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 5.0


def sqlite_path(database_url: str) -> Path | None:
    """The database file of a `sqlite://` URL; None for other databases and in-memory ones."""
    parts = urlsplit(database_url)
    name = parts.netloc + parts.path  # a relative file ("sqlite://fogbank.db") is all netloc
    if parts.scheme != "sqlite" or name in ("", ":memory:"):
        return None
    return Path(name)


def checkpoint(path: Path) -> tuple[int, int]:
    """A PASSIVE checkpoint of `path` (blocking: run it in a thread); (WAL frames, frames copied)."""
    connection = sqlite3.connect(path, timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        connection.close()
    if busy:
        log.debug("WAL checkpoint of %s was partial: a writer was busy", path)
    return int(frames), int(copied)


class WalCheckpointer:
    """The periodic job; the reconciler schedules `run` every CHECKPOINT_INTERVAL_SECONDS."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def run(self) -> None:
        try:
            await asyncio.to_thread(checkpoint, self.path)
        except sqlite3.Error as exc:  # the safety net still bounds the WAL; say why and retry
            log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
