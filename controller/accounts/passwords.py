"""argon2 password hashes, computed off the event loop: each hash takes tens of milliseconds of
CPU and 64 MiB, so at most HASH_SLOTS run at once (in threads; argon2 releases the GIL) and other
requests keep being served while logins are checked."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASH_SLOTS = 2

_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal valid usernames.
DUMMY_HASH = _hasher.hash("fogbank-timing-equaliser")
_slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None


def _slot() -> asyncio.Semaphore:
    """The semaphore of the running loop (tests run several loops in one process)."""
    global _slots  # noqa: PLW0603 - one semaphore per event loop
    loop = asyncio.get_running_loop()
    if _slots is None or _slots[0] is not loop:
        _slots = (loop, asyncio.Semaphore(HASH_SLOTS))
    return _slots[1]


async def hash_password(password: str) -> str:
    async with _slot():
        return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; the same work for a wrong password as for a right one."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async with _slot():
        return await asyncio.to_thread(verify)
