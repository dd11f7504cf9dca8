"""A `fogbank serve` whose start fails exits with the reason, instead of hanging; an edge that
cannot run (a data_dir too long for its unix sockets) is told clearly and leaves the API up."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import child_env, prepare_server

pytestmark = pytest.mark.slow


def test_a_start_that_fails_half_way_exits_with_the_reason(tmp_path: Path) -> None:
    """The database opens, then the start fails (a table gone behind fogbank's back). Before the
    fix the process printed the error and then never exited: the database's worker thread kept
    it alive, deaf to SIGTERM, while systemd saw it running."""
    server = prepare_server(tmp_path)
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "fogbank.db")) as db:
        db.execute("DROP TABLE instance")
        db.commit()
    ended = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--config", str(server.config)],
        check=False, env=child_env(), capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert ended.returncode != 0
    assert "no such table: instance" in ended.stdout + ended.stderr


def test_a_data_dir_too_long_for_the_edge_sockets_is_named_and_the_api_stays_up(
    tmp_path: Path,
) -> None:
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    server = prepare_server(deep)
    server.start()
    try:
        assert httpx.get(f"{server.base}/api/health", timeout=5).status_code == 200
    finally:
        server.stop()
    logged = server.log_path.read_text()
    assert "is too long: shorten storage.data_dir" in logged
    assert "FileNotFoundError" not in logged and "Traceback" not in logged
