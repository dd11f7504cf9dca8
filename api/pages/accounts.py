"""Log in, first-run signup, and the admin pages for API tokens and users. Logging in and out,
signing up and every change go through the JSON API from the page (its rate limit, CSRF and
Origin checks apply); these views only render."""

from __future__ import annotations

from quart import Response, request

from api.guard import identify
from api.pages.site import blueprint, page, render, safe_next
from controller.errors import Unauthorized
from controller.store.models import Role, User


def _see_other(location: str) -> Response:
    return Response("", status=303, headers={"Location": location})


@blueprint.get("/login")
@page(None)
async def login() -> Response:
    """The login form; while no user exists, the first-run signup instead."""
    target = safe_next(request.args.get("next"))
    if not await User.exists():
        return _see_other("/signup")
    try:
        signed_in = await identify(request, allow_query_token=False)
    except Unauthorized:
        signed_in = None
    if signed_in is not None:
        return _see_other(target)
    return await render("login.html", signup=False, next=target)


@blueprint.get("/signup")
@page(None)
async def signup() -> Response:
    """Create the first user (an admin); once a user exists, the login form."""
    if await User.exists():
        return _see_other("/login")
    return await render("login.html", signup=True, next="/")


@blueprint.get("/tokens")
@page(Role.ADMIN)
async def tokens() -> Response:
    """API tokens: create one (shown once), list and revoke."""
    return await render("tokens.html")


@blueprint.get("/users")
@page(Role.ADMIN)
async def users() -> Response:
    """Users and their roles."""
    return await render("users.html")
