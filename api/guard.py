"""Authentication for every route, failing closed: a view is public only when decorated with
@public; everything else needs a session cookie or an API token, and @requires(role) checks the
role. Cookie-authenticated state changes must also pass a CSRF check (JSON body, allowed Origin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Literal, ParamSpec, TypeVar
from urllib.parse import urlsplit

from quart import current_app, g, request, websocket
from quart.wrappers import Request, Websocket

from controller.accounts import auth
from controller.errors import Forbidden, Unauthorized
from controller.store.models import Role, User
from controller.telemetry.logcontext import set_user

SESSION_COOKIE = "fogbank_session"
# With an https public URL: the browser sends it only over https, to this exact host, path /.
HOST_SESSION_COOKIE = "__Host-fogbank_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Principal:
    credential: auth.Credential

    @property
    def user(self) -> User:
        return self.credential.user

    @property
    def via(self) -> Literal["session", "token"]:
        return self.credential.kind

    @property
    def role(self) -> Role:
        return Role(self.user.role)


def public(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Mark a view as reachable without credentials (health, login, signup, webhooks)."""
    view.fogbank_public = True  # type: ignore[attr-defined]
    return view


def requires(role: Role) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """The caller's role must be at least `role` (admin > deployer > viewer)."""

    def decorate(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(view)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            check_role(current_principal(), role)
            return await view(*args, **kwargs)

        wrapper.fogbank_role = role  # type: ignore[attr-defined]  # read by api/documentation.py
        return wrapper

    return decorate


def check_role(principal: Principal, role: Role) -> None:
    if principal.role.rank < role.rank:
        raise Forbidden(f"this action needs the {role} role; you are {principal.role}")


def current_principal() -> Principal:
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise Unauthorized("authentication required")
    return principal


async def identify(source: Request | Websocket, *, allow_query_token: bool) -> Principal | None:
    """Who is calling: Bearer token, ?token= (WebSocket only), or the session cookie."""
    header = source.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization header must be 'Bearer <token>'")
        credential = await auth.resolve_api_token(value.strip())
        if credential is None:
            raise Unauthorized("invalid, expired or revoked API token")
        return Principal(credential)
    if allow_query_token and source.args.get("token"):
        credential = await auth.resolve_api_token(source.args["token"])
        if credential is None:
            raise Unauthorized("invalid, expired or revoked API token")
        return Principal(credential)
    cookie = source.cookies.get(session_cookie())
    if cookie:
        credential = await auth.resolve_session(cookie)
        if credential is not None:
            return Principal(credential)
    return None


def session_cookie() -> str:
    """The session cookie's name (create_app decides it from server.public_url)."""
    name: str = current_app.config["FOGBANK_SESSION_COOKIE"]
    return name


def origin_allowed(source: Request | Websocket) -> bool:
    """No Origin (curl, CLI) or one naming this host or a configured origin."""
    origin = source.headers.get("Origin")
    if not origin:
        return True
    allowed: tuple[str, ...] = current_app.config["FOGBANK_ALLOWED_ORIGINS"]
    if origin in allowed:
        return True
    return urlsplit(origin).netloc == source.headers.get("Host", "")


async def authenticate_request() -> None:
    """before_request hook: fail closed unless the view is public."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "fogbank_public", False):
        return
    if getattr(view, "fogbank_page", False):
        return  # a dashboard page: api/pages/site.py's @page fails closed with a login redirect
    principal = await identify(request, allow_query_token=False)
    if principal is None:
        raise Unauthorized("authentication required: log in or send 'Authorization: Bearer'")
    if principal.via == "session" and request.method not in SAFE_METHODS:
        _check_csrf()
    g.principal = principal
    set_user(principal.user.username)  # for the request's access log line


def _check_csrf() -> None:
    if not origin_allowed(request):
        raise Forbidden("cross-origin request refused", code="CSRF_REJECTED")
    content_type = request.headers.get("Content-Type", "")
    if content_type and not content_type.startswith("application/json"):
        raise Forbidden(
            "cookie-authenticated changes must send Content-Type: application/json",
            code="CSRF_REJECTED",
        )


async def authenticate_websocket() -> Principal | None:
    """For the WebSocket handler, which closes with 4401/4403 itself (after accepting)."""
    principal = await identify(websocket, allow_query_token=True)
    if principal is not None and principal.via == "session" and not origin_allowed(websocket):
        raise Forbidden("WebSocket Origin not allowed for cookie authentication")
    if principal is not None:
        set_user(principal.user.username)
    return principal
