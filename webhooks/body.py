"""A webhook body as it arrives, before anyone knows whether it is genuine.

The first MEMORY_BYTES stay in memory (a usual push fits); past that, every chunk goes to an
unlinked temporary file under the data directory, so a request that is not verified yet holds
at most that much memory whatever its size, and a crash leaves no file behind. Chunks (at most
64 KiB from the server) are written on the event loop: a write to the page cache is short, and
handing each to a thread made the threads' own allocator arenas keep megabytes after a flood.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import BinaryIO

MEMORY_BYTES = 64 * 1024


class SpooledBody:
    """Bytes appended chunk by chunk; `read` gives them back whole (after verification)."""

    def __init__(self, spool_dir: Path) -> None:
        self._spool_dir = spool_dir
        self._buffer = bytearray()
        self._file: BinaryIO | None = None
        self.size = 0

    def append(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._file is None and len(self._buffer) + len(chunk) <= MEMORY_BYTES:
            self._buffer += chunk
            return
        if self._file is None:
            self._file = _temporary_file(self._spool_dir)
            self._file.write(self._buffer)
            self._buffer = bytearray()
        self._file.write(chunk)

    @property
    def spilled(self) -> bool:
        return self._file is not None

    async def read(self) -> bytes:
        """Everything appended, in order; a spilled body is read back in a thread."""
        if self._file is None:
            return bytes(self._buffer)
        return await asyncio.to_thread(_read_all, self._file)

    def close(self) -> None:
        """Drop the bytes (the temporary file has no name; closing it frees its space)."""
        self._buffer = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None


def _temporary_file(directory: Path) -> BinaryIO:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return tempfile.TemporaryFile(dir=directory)


def _read_all(spilled: BinaryIO) -> bytes:
    spilled.seek(0)
    return spilled.read()
