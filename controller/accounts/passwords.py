"""argon2 password hashes, computed off the event loop: each hash takes tens of milliseconds of
CPU (more on a busy host) and 64 MiB, so at most HASH_SLOTS run at once, in threads of their own
(argon2 releases the GIL) that run at a lower CPU priority than the event loop: a burst of logins
waits for CPU before the requests being served do."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")
HASH_SLOTS = 2
# Added to the hashing threads' nice value (the threads argon2 starts for its lanes inherit it).
HASH_NICENESS = 10

_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal valid usernames.
DUMMY_HASH = _hasher.hash("fogbank-timing-equaliser")
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _lower_priority() -> None:
    with contextlib.suppress(OSError):  # a host that forbids it hashes at normal priority
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + HASH_NICENESS)


def _executor() -> ThreadPoolExecutor:
    """HASH_SLOTS threads, made on first use: requests beyond them wait in its queue (a
    cancelled request leaves the queue)."""
    global _pool  # noqa: PLW0603 - one pool per process, like the default executor
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                HASH_SLOTS, thread_name_prefix="argon2", initializer=_lower_priority
            )
        return _pool


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_executor(), _hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; the same work for a wrong password as for a right one."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.get_running_loop().run_in_executor(_executor(), verify)
