"""SQLite checkpoints off the request path (controller/walcheckpoint.py), on real database
files: the default URL moves SQLite's own checkpoint out of the way, and the job's PASSIVE
checkpoint copies the WAL back while another connection keeps the database open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from quart import Quart
from tortoise import connections

from controller.config import SQLITE_AUTOCHECKPOINT_PAGES
from controller.store.checkpoint import checkpoint, sqlite_path


def test_sqlite_path_of_urls() -> None:
    assert sqlite_path("sqlite:///srv/fogbank/fogbank.db?wal_autocheckpoint=20000") == Path(
        "/srv/fogbank/fogbank.db"
    )
    assert sqlite_path("sqlite://:memory:") is None
    assert sqlite_path("postgres://fogbank:secret@db.internal/fogbank") is None


def test_sqlite_path_of_a_relative_url() -> None:
    # Tortoise reads "sqlite://data/fogbank.db" as a path relative to the working directory.
    assert sqlite_path("sqlite://data/fogbank.db") == Path("data/fogbank.db")
    assert sqlite_path("sqlite://fogbank.db?synchronous=NORMAL") == Path("fogbank.db")


def test_a_passive_checkpoint_copies_the_wal_while_a_writer_stays_connected(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wal.db"
    writer = sqlite3.connect(path)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")  # only our checkpoint may copy
        writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        writer.executemany("INSERT INTO t (body) VALUES (?)", [("x" * 500,)] * 2000)
        writer.commit()
        before = path.stat().st_size
        frames, copied = checkpoint(path)
        assert frames > 100 and copied == frames
        assert path.stat().st_size > before + 500_000  # the rows reached the database file
        writer.execute("INSERT INTO t (body) VALUES ('after')")  # the writer carries on
        writer.commit()
    finally:
        writer.close()


@pytest.mark.slow
async def test_the_server_database_uses_the_larger_safety_net(app: Quart) -> None:
    database = connections.get("default")
    rows = await database.execute_query_dict("PRAGMA wal_autocheckpoint")
    assert rows == [{"wal_autocheckpoint": SQLITE_AUTOCHECKPOINT_PAGES}]
    assert await database.execute_query_dict("PRAGMA synchronous") == [{"synchronous": 1}]  # NORMAL
