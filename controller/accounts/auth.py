"""Users, password hashing, server-side sessions, API tokens and the login rate limit."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import deque
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from controller.errors import Conflict, RateLimited, ValidationFailed
from controller.store.models import ApiToken, Role, Session, User
from controller.store.timefmt import utcnow

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "fbk_"  # noqa: S105 - marks fogbank tokens in secret scanners
# ApiToken.last_used_at is kept to this precision.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal valid usernames.
_DUMMY_HASH = _hasher.hash("fogbank-timing-equaliser")


def _digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


async def create_user(username: str, password: str, role: Role) -> User:
    """Create a user with an argon2 password hash; the name must be new."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationFailed("username must be 1-64 letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if await User.filter(username=username).exists():
        raise Conflict(f"user '{username}' already exists", code="USER_EXISTS")
    return await User.create(username=username, password_hash=_hasher.hash(password), role=role)


async def authenticate(username: str, password: str) -> User | None:
    """The user when the password matches, else None (same work either way)."""
    user = await User.get_or_none(username=username)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


async def create_session(user: User, ttl_seconds: int) -> str:
    """A new session; returns the raw cookie value (only its hash is stored)."""
    raw = secrets.token_urlsafe(32)
    await Session.create(
        token_hash=_digest(raw), user=user, expires_at=utcnow() + timedelta(seconds=ttl_seconds)
    )
    return raw


async def resolve_session(raw: str) -> User | None:
    session = await Session.get_or_none(token_hash=_digest(raw)).prefetch_related("user")
    if session is None or not hmac.compare_digest(session.token_hash, _digest(raw)):
        return None
    if session.expires_at <= utcnow():
        await session.delete()
        return None
    return session.user


async def end_session(raw: str) -> None:
    await Session.filter(token_hash=_digest(raw)).delete()


async def create_api_token(user: User, name: str) -> str:
    """A new API token for `user`; the raw value is returned once and stored only hashed."""
    if not name or len(name) > 64:
        raise ValidationFailed("token name must be 1-64 characters")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(name=name, token_hash=_digest(raw), user=user)
    return raw


async def resolve_api_token(raw: str) -> User | None:
    token = await ApiToken.get_or_none(token_hash=_digest(raw)).prefetch_related("user")
    if token is None or not hmac.compare_digest(token.token_hash, _digest(raw)):
        return None
    now = utcnow()
    # At most one write per token and minute, not one per authenticated request.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        await token.save(update_fields=["last_used_at"])
    return token.user


class LoginLimiter:
    """At most `limit` failed logins per minute for one (username, address) pair."""

    WINDOW_SECONDS = 60.0

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def check(self, username: str, address: str) -> None:
        recent = self._recent((username, address))
        if len(recent) >= self._limit:
            retry = int(self.WINDOW_SECONDS - (time.monotonic() - recent[0])) + 1
            raise RateLimited(f"too many failed logins; try again in {retry} s")

    def record_failure(self, username: str, address: str) -> None:
        self._recent((username, address)).append(time.monotonic())

    def reset(self, username: str, address: str) -> None:
        self._failures.pop((username, address), None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        horizon = time.monotonic() - self.WINDOW_SECONDS
        while failures and failures[0] < horizon:
            failures.popleft()
        return failures
