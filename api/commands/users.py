"""`fogbank user list|create|disable|enable|delete|set-role|set-password` and `fogbank token
create` (wired in api/cli/users.py): the admin API's user management for the host's operator
(e.g. to recover when no admin can log in). Every change is written to the audit log as
`cli:<system user>` from `local`; a running server sees it within a second (its open WebSockets
re-check their credentials)."""

from __future__ import annotations

import argparse
import getpass
import sys

from controller.accounts import audit, auth, users
from controller.store.models import Role, User


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("Password: ")


async def record(action: str, username: str, detail: str = "") -> None:
    target = f"username={username}" + (f" {detail}" if detail else "")
    await audit.record(f"cli:{getpass.getuser()}", action, target, address="local")


async def list_users(args: argparse.Namespace) -> int:
    for user in await users.all_users():
        state = "disabled" if user.disabled else "enabled"
        print(f"{user.id}\t{user.username}\t{user.role}\t{state}")
    return 0


async def create(args: argparse.Namespace) -> int:
    user = await auth.create_user(args.username, read_password(args), Role(args.role))
    await record("users.create", user.username, f"role={user.role}")
    print(f"created user {user.username} with role {user.role}")
    return 0


async def disable(args: argparse.Namespace) -> int:
    user = await users.set_disabled(await users.find_by_name(args.username), True)
    await record("users.disable", user.username)
    print(f"disabled {user.username}")
    return 0


async def enable(args: argparse.Namespace) -> int:
    user = await users.set_disabled(await users.find_by_name(args.username), False)
    await record("users.enable", user.username)
    print(f"enabled {user.username}")
    return 0


async def delete(args: argparse.Namespace) -> int:
    user = await users.find_by_name(args.username)
    await users.delete_user(user)
    await record("users.delete", args.username)
    print(f"deleted {args.username}")
    return 0


async def set_role(args: argparse.Namespace) -> int:
    user = await users.set_role(await users.find_by_name(args.username), Role(args.role))
    await record("users.setRole", user.username, f"role={user.role}")
    print(f"{user.username} is now {user.role}; their sessions ended")
    return 0


async def set_password(args: argparse.Namespace) -> int:
    user = await users.set_password(await users.find_by_name(args.username), read_password(args))
    await record("users.setPassword", user.username)
    print(f"password of {user.username} changed; their sessions ended")
    return 0


async def create_token(args: argparse.Namespace) -> int:
    user = await User.get_or_none(username=args.username)
    if user is None:
        print(f"fogbank: no user named {args.username}", file=sys.stderr)
        return 1
    print(await auth.create_api_token(user, args.name))
    await record("tokens.create", user.username, f"name={args.name}")
    return 0
