"""What every dashboard page shares: the blueprint, who may see a page (a session or token, else
a redirect to the login page), the security headers (a CSP without inline scripts, no
framing), and errors shown as a page rather than the API's JSON envelope."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from quart import Blueprint, Response, g, request, url_for

from api.guard import Principal, identify
from controller.errors import FogbankError, Forbidden, Unauthorized
from controller.store.models import Role

P = ParamSpec("P")
PageView = Callable[P, Awaitable[Response | str]]

blueprint = Blueprint("pages", __name__)
# The pages' own templates, rendered synchronously: Quart's environment renders asynchronously,
# which costs several times more CPU for a page of a hundred rows (bench/dashboard.py).
templates = Environment(
    loader=PackageLoader("api.pages", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=False,
    auto_reload=False,
)
templates.globals["url_for"] = url_for

# Scripts and styles only from this server's own files; the sockets and fetches of the pages go
# to this server only; no page may be framed (clickjacking).
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
PAGE_ATTRIBUTE = "fogbank_page"


def page(role: Role | None = Role.VIEWER) -> Callable[[PageView[P]], PageView[P]]:
    """A dashboard page. The API's guard leaves pages to this decorator, which fails closed the
    same way: no session or token, a redirect to the login page; a role too low, 403. `None`:
    a public page (login, signup, the pages' own files)."""

    def decorate(view: PageView[P]) -> PageView[P]:
        @wraps(view)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response | str:
            g.page_started = time.perf_counter()
            if role is not None:
                try:
                    principal = await identify(request, allow_query_token=False)
                except Unauthorized:
                    principal = None
                if principal is None:
                    return _to_login()
                if principal.role.rank < role.rank:
                    raise Forbidden(f"this page needs the {role} role; you are {principal.role}")
                g.principal = principal
            return await view(*args, **kwargs)

        setattr(wrapper, PAGE_ATTRIBUTE, True)
        return wrapper

    return decorate


def is_page(view: Any) -> bool:
    return bool(getattr(view, PAGE_ATTRIBUTE, False))


def viewer() -> Principal:
    """Who is looking at this page (set by @page)."""
    principal: Principal = g.principal
    return principal


def can(role: Role) -> bool:
    """Whether the viewer holds `role` or more: which controls a page shows."""
    principal: Principal | None = g.get("principal")
    return principal is not None and principal.role.rank >= role.rank


def safe_next(target: str | None) -> str:
    """A path on this server to return to after logging in; anything else (another host,
    `//host`, a scheme) becomes the apps page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _to_login() -> Response:
    wanted = request.full_path.rstrip("?")
    query = "" if wanted == "/" else "?" + urlencode({"next": safe_next(wanted)})
    return Response("", status=303, headers={"Location": "/login" + query})


async def render(template: str, status: int = 200, **context: Any) -> Response:
    """A template as an HTML answer, with what every page shows (the viewer, their role)."""
    principal: Principal | None = g.get("principal")
    html = templates.get_template(template).render(
        me=principal.user if principal else None, **context
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8")


@blueprint.after_request
async def security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    started: float | None = g.get("page_started")
    if started is not None:  # the server's own time for the page, shown by browsers' tools
        response.headers["Server-Timing"] = f"page;dur={(time.perf_counter() - started) * 1000:.2f}"
    if response.content_type.startswith("text/html"):
        response.headers["Cache-Control"] = "no-store"  # pages show state that changes
    return response


@blueprint.errorhandler(FogbankError)
async def error_page(error: FogbankError) -> Response:
    return await render("error.html", error.status_code, error=error)
