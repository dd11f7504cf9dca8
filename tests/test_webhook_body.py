"""A webhook body before verification: the first part in memory, the rest in an unlinked file
(nothing named on disk, ever), given back whole."""

from __future__ import annotations

import os
from pathlib import Path

from webhooks.body import MEMORY_BYTES, SpooledBody

CHUNK = 64 * 1024


async def test_a_small_body_stays_in_memory(tmp_path: Path) -> None:
    body = SpooledBody(tmp_path / "spool")
    for part in (b'{"ref": ', b'"refs/heads/main"}'):
        body.append(part)
    assert not body.spilled and body.size == 26
    assert await body.read() == b'{"ref": "refs/heads/main"}'
    assert not (tmp_path / "spool").exists()


async def test_a_large_body_goes_to_an_unlinked_file_and_comes_back_whole(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    body = SpooledBody(spool)
    sent = os.urandom(16 * CHUNK + 123)
    for start in range(0, len(sent), CHUNK):
        body.append(sent[start : start + CHUNK])
    assert body.spilled and body.size == len(sent) > MEMORY_BYTES
    assert list(spool.iterdir()) == []  # the file has no name
    assert spool.stat().st_mode & 0o777 == 0o700
    assert await body.read() == sent
    body.close()
    assert await body.read() == b""
