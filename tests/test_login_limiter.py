"""The login limiter on its own: budgets per address, per username and overall, attempts counted
before they are checked, successes forgiven, old entries dropped, memory bounded."""

from __future__ import annotations

import pytest

from controller.accounts.limiter import WINDOW_SECONDS, LoginLimiter
from controller.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(limiter: LoginLimiter, username: str, address: str) -> bool:
    try:
        limiter.attempt(username, address)
    except RateLimited:
        return True
    return False


def test_rotating_usernames_from_one_address_hit_the_address_budget() -> None:
    """Protection: the per-address window (keyed on username+address, as before, none of 120
    attempts with rotating usernames would be refused)."""
    limiter = LoginLimiter(per_username=5, per_address=20, overall=1000, clock=Clock())
    outcomes = [refused(limiter, f"user{n}", "10.0.0.1") for n in range(120)]
    assert outcomes == [False] * 20 + [True] * 100
    assert not refused(limiter, "user0", "10.0.0.2")  # another address has its own budget


def test_one_username_from_many_addresses_hits_the_username_budget() -> None:
    limiter = LoginLimiter(per_username=5, per_address=20, overall=1000, clock=Clock())
    outcomes = [refused(limiter, "admin", f"10.0.0.{n}") for n in range(10)]
    assert outcomes == [False] * 5 + [True] * 5


def test_the_overall_budget_holds_across_addresses_and_usernames() -> None:
    limiter = LoginLimiter(per_username=5, per_address=20, overall=30, clock=Clock())
    outcomes = [refused(limiter, f"u{n}", f"10.0.{n}.1") for n in range(40)]
    assert outcomes == [False] * 30 + [True] * 10


def test_attempts_count_before_they_are_checked_and_successes_are_forgiven() -> None:
    """Attempts still being checked use the budget (concurrent logins cannot all slip under
    it); an attempt that succeeded gives its place back."""
    limiter = LoginLimiter(per_username=3, per_address=3, overall=100, clock=Clock())
    in_flight = [limiter.attempt("alice", "10.0.0.1") for _ in range(3)]
    with pytest.raises(RateLimited, match="from this address"):
        limiter.attempt("alice", "10.0.0.1")
    limiter.succeeded(in_flight[1])
    limiter.attempt("alice", "10.0.0.1")
    with pytest.raises(RateLimited):
        limiter.attempt("alice", "10.0.0.1")


def test_the_window_passes_and_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = LoginLimiter(per_username=5, per_address=2, overall=10**6, max_keys=50, clock=clock)
    assert [refused(limiter, "bob", "10.0.0.1") for _ in range(3)] == [False, False, True]
    clock.now += WINDOW_SECONDS + 0.1
    assert not refused(limiter, "bob", "10.0.0.1")
    for n in range(10_000):
        limiter.attempt(f"user{n}", f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert limiter.tracked <= 100


def test_the_refusal_says_when_to_try_again() -> None:
    clock = Clock()
    limiter = LoginLimiter(per_username=1, per_address=10, overall=10, clock=clock)
    limiter.attempt("carol", "10.0.0.1")
    clock.now += 20
    with pytest.raises(RateLimited, match=r"for this user; try again in 41 s"):
        limiter.attempt("carol", "10.0.0.2")
