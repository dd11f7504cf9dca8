"""A webhook body as it arrives, before anyone knows whether it is genuine.

It is kept in memory up to MEMORY_BYTES (every real push fits) and beyond that in an unlinked
temporary file under the data directory, so a request that is not verified yet costs at most
that much memory whatever its size, and a crash leaves no file behind.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import BinaryIO

MEMORY_BYTES = 128 * 1024


class SpooledBody:
    """Bytes appended chunk by chunk; `read` gives them back whole (after verification)."""

    def __init__(self, spool_dir: Path) -> None:
        self._spool_dir = spool_dir
        self._buffer = bytearray()
        self._file: BinaryIO | None = None
        self.size = 0

    async def append(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._buffer += chunk
        if len(self._buffer) >= MEMORY_BYTES:
            await self._spill()

    async def read(self) -> bytes:
        """Everything appended, in order; a spilled body is read back in a thread."""
        if self._file is None:
            return bytes(self._buffer)
        await self._spill()
        spilled = self._file
        return await asyncio.to_thread(_read_all, spilled)

    def close(self) -> None:
        """Drop the bytes (the temporary file has no name; closing it frees its space)."""
        self._buffer = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None

    async def _spill(self) -> None:
        if self._file is None:
            self._file = await asyncio.to_thread(_temporary_file, self._spool_dir)
        spilled, pending = self._file, self._buffer
        self._buffer = bytearray()
        await asyncio.to_thread(spilled.write, pending)


def _temporary_file(directory: Path) -> BinaryIO:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return tempfile.TemporaryFile(dir=directory)


def _read_all(spilled: BinaryIO) -> bytes:
    spilled.seek(0)
    return spilled.read()
