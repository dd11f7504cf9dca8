"""Users' credentials: creating users, checking passwords, server-side sessions and API tokens.

Sessions and tokens are stored only as SHA-256 hashes of their raw values. A credential is
valid while its row exists, it has not expired and its user is not disabled: deleting the row is
revocation, and every request (and every open WebSocket, see api/sockets.py) checks again."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from controller.accounts.passwords import DUMMY_HASH, hash_password, verify_password
from controller.errors import Conflict, ValidationFailed
from controller.store.models import ApiToken, Role, Session, User
from controller.store.timefmt import utcnow

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "fbk_"  # noqa: S105 - marks fogbank tokens in secret scanners
# ApiToken.last_used_at is kept to this precision.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Credential:
    """What a caller authenticated with: which row, whose, until when."""

    kind: Literal["session", "token"]
    digest: str
    user: User
    expires_at: datetime | None


def digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationFailed("username must be 1-64 letters, digits, '.', '_' or '-'")
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    return password


async def create_user(username: str, password: str, role: Role) -> User:
    """Create a user with an argon2 password hash; the name must be new."""
    check_username(username)
    check_password(password)
    if await User.filter(username=username).exists():
        raise Conflict(f"user '{username}' already exists", code="USER_EXISTS")
    password_hash = await hash_password(password)
    return await User.create(username=username, password_hash=password_hash, role=role)


async def authenticate(username: str, password: str) -> User | None:
    """The user when the password matches and the user is enabled, else None (the same work
    either way, so timing reveals neither which users exist nor which are disabled)."""
    user = await User.get_or_none(username=username)
    matches = await verify_password(user.password_hash if user else DUMMY_HASH, password)
    if user is None or not matches or user.disabled:
        return None
    return user


async def create_session(user: User, ttl_seconds: int) -> str:
    """A new session; returns the raw cookie value (only its hash is stored)."""
    raw = secrets.token_urlsafe(32)
    await Session.create(
        token_hash=digest(raw), user=user, expires_at=utcnow() + timedelta(seconds=ttl_seconds)
    )
    return raw


async def resolve_session(raw: str) -> Credential | None:
    hashed = digest(raw)
    # The user in the same query (a join): one database round trip per request, not two.
    session = await Session.get_or_none(token_hash=hashed).select_related("user")
    if session is None or not hmac.compare_digest(session.token_hash, hashed):
        return None
    if session.expires_at <= utcnow():
        await session.delete()
        return None
    if session.user.disabled:
        return None
    return Credential("session", session.token_hash, session.user, session.expires_at)


async def end_session(raw: str) -> None:
    await Session.filter(token_hash=digest(raw)).delete()


async def end_sessions(user_id: int) -> int:
    """End every session of the user (password or role changed, disabled); how many ended."""
    return await Session.filter(user_id=user_id).delete()


async def create_api_token(user: User, name: str, expires_at: datetime | None = None) -> str:
    """A new API token for `user`; the raw value is returned once and stored only hashed."""
    if not name or len(name) > 64:
        raise ValidationFailed("token name must be 1-64 characters")
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed("expiresAt must be in the future")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(name=name, token_hash=digest(raw), user=user, expires_at=expires_at)
    return raw


async def resolve_api_token(raw: str) -> Credential | None:
    hashed = digest(raw)
    # The user in the same query (a join): one database round trip per request, not two.
    token = await ApiToken.get_or_none(token_hash=hashed).select_related("user")
    if token is None or not hmac.compare_digest(token.token_hash, hashed):
        return None
    now = utcnow()
    if (token.expires_at is not None and token.expires_at <= now) or token.user.disabled:
        return None
    # At most one write per token and minute, not one per authenticated request.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        await token.save(update_fields=["last_used_at"])
    return Credential("token", token.token_hash, token.user, token.expires_at)


async def still_valid(credential: Credential) -> bool:
    """Whether the credential's row still exists, unexpired, for an enabled user."""
    table = Session if credential.kind == "session" else ApiToken
    row = await table.get_or_none(token_hash=credential.digest).prefetch_related("user")
    if row is None or row.user.disabled:
        return False
    return row.expires_at is None or row.expires_at > utcnow()


async def tokens_of(user: User | None) -> list[ApiToken]:
    """Every token of `user` (None: of everyone), newest first, with their users."""
    query = ApiToken.all() if user is None else ApiToken.filter(user_id=user.id)
    return await query.order_by("-id").prefetch_related("user")


async def revoke_token(token: ApiToken) -> None:
    await token.delete()
