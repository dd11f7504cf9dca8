"""The login rate limit: failed logins per minute per address, per username and in all.

An attempt is recorded before its password is checked (concurrent attempts cannot all slip
under the limit) and forgiven when it succeeds, so what counts is failures plus attempts still
being checked. A refused attempt costs no hash. Memory is bounded: at most `max_keys` addresses
and usernames are remembered (the least recently seen go first), each with at most its limit of
timestamps, and entries older than the window are dropped as they are met."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from controller.errors import RateLimited

WINDOW_SECONDS = 60.0
MAX_KEYS = 10_000


@dataclass(frozen=True)
class Attempt:
    username: str
    address: str
    at: float


class _Window:
    """Timestamps per key within the window, for at most `max_keys` keys."""

    def __init__(self, limit: int, max_keys: int) -> None:
        self.limit = limit
        self._max_keys = max_keys
        self._stamps: OrderedDict[str, deque[float]] = OrderedDict()

    def full(self, key: str, now: float) -> float | None:
        """Seconds until `key` may try again, or None when it may now."""
        stamps = self._stamps.get(key)
        if stamps is None:
            return None
        while stamps and stamps[0] <= now - WINDOW_SECONDS:
            stamps.popleft()
        if not stamps:
            del self._stamps[key]
            return None
        return stamps[0] + WINDOW_SECONDS - now if len(stamps) >= self.limit else None

    def add(self, key: str, now: float) -> None:
        stamps = self._stamps.setdefault(key, deque())
        stamps.append(now)
        self._stamps.move_to_end(key)
        while len(self._stamps) > self._max_keys:
            self._stamps.popitem(last=False)

    def forgive(self, key: str, stamp: float) -> None:
        stamps = self._stamps.get(key)
        if stamps is not None and stamp in stamps:
            stamps.remove(stamp)

    def __len__(self) -> int:
        return len(self._stamps)


class LoginLimiter:
    def __init__(
        self,
        per_username: int,
        per_address: int,
        overall: int,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._usernames = _Window(per_username, max_keys)
        self._addresses = _Window(per_address, max_keys)
        self._overall = _Window(overall, 1)
        self._last = 0.0

    def attempt(self, username: str, address: str) -> Attempt:
        """Record a login attempt about to be checked, or raise RateLimited (429)."""
        now = self._clock()
        for window, key, what in (
            (self._addresses, address, "from this address"),
            (self._usernames, username, "for this user"),
            (self._overall, "", "on this server"),
        ):
            wait = window.full(key, now)
            if wait is not None:
                raise RateLimited(f"too many failed logins {what}; try again in {int(wait) + 1} s")
        # Strictly increasing stamps, so forgiving one attempt never forgives another.
        now = self._last = max(now, self._last + 1e-6)
        for window, key in ((self._addresses, address), (self._usernames, username)):
            window.add(key, now)
        self._overall.add("", now)
        return Attempt(username, address, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt does not count against anyone."""
        self._addresses.forgive(attempt.address, attempt.at)
        self._usernames.forgive(attempt.username, attempt.at)
        self._overall.forgive("", attempt.at)

    @property
    def tracked(self) -> int:
        """Addresses and usernames remembered now (bounded by 2 * max_keys)."""
        return len(self._addresses) + len(self._usernames)
