"""Managing users: the first admin's signup, listing, role and password changes, disabling and
deleting. A change of password or role ends the user's sessions (a stolen cookie does not outlive
the change); disabling refuses all of the user's credentials; the last enabled admin can be
neither demoted, disabled nor deleted, so fogbank always has someone who can manage it."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from controller.accounts import auth
from controller.accounts.passwords import hash_password
from controller.errors import Conflict, Forbidden, NotFound
from controller.store.models import Role, SignupClaim, User

SIGNUP_CLOSED = "signup is closed: users already exist; ask an admin"


async def signup_first_admin(username: str, password: str) -> User:
    """The first user, as admin, while no user exists. Two concurrent signups both insert the
    one signup claim; the database lets exactly one of them succeed."""
    auth.check_username(username)
    auth.check_password(password)
    if await User.exists():
        raise Forbidden(SIGNUP_CLOSED, code="SIGNUP_CLOSED")
    password_hash = await hash_password(password)
    try:
        async with in_transaction():
            await SignupClaim.create(slot=1, username=username)
            if await User.exists():  # made meanwhile by `fogbank user create`
                raise Forbidden(SIGNUP_CLOSED, code="SIGNUP_CLOSED")
            return await User.create(
                username=username, password_hash=password_hash, role=Role.ADMIN
            )
    except IntegrityError:
        raise Forbidden(SIGNUP_CLOSED, code="SIGNUP_CLOSED") from None


async def find_user(user_id: int) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist", code="USER_NOT_FOUND")
    return user


async def find_by_name(username: str) -> User:
    user = await User.get_or_none(username=username)
    if user is None:
        raise NotFound(f"no user named {username}", code="USER_NOT_FOUND")
    return user


async def all_users() -> list[User]:
    return await User.all().order_by("id")


async def set_role(user: User, role: Role) -> User:
    if user.role == role:
        return user
    if user.role == Role.ADMIN:
        await _keep_an_admin(user, "demote")
    user.role = role
    await user.save(update_fields=["role"])
    await auth.end_sessions(user.id)
    return user


async def set_password(user: User, password: str) -> User:
    auth.check_password(password)
    user.password_hash = await hash_password(password)
    await user.save(update_fields=["password_hash"])
    await auth.end_sessions(user.id)
    return user


async def set_disabled(user: User, disabled: bool) -> User:
    if disabled and not user.disabled and user.role == Role.ADMIN:
        await _keep_an_admin(user, "disable")
    user.disabled = disabled
    await user.save(update_fields=["disabled"])
    if disabled:
        await auth.end_sessions(user.id)
    return user


async def delete_user(user: User) -> None:
    """Delete the user with its sessions and tokens (the audit log keeps its name)."""
    if user.role == Role.ADMIN:
        await _keep_an_admin(user, "delete")
    await user.delete()


async def _keep_an_admin(user: User, action: str) -> None:
    others = await User.filter(role=Role.ADMIN, disabled=False).exclude(id=user.id).count()
    if not others and not user.disabled:
        raise Conflict(
            f"cannot {action} {user.username}: it is the last enabled admin", code="LAST_ADMIN"
        )
