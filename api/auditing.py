"""Every change made through the API goes into the audit log, in this one place: an after-request
hook records each successful non-GET call of an authenticated route (and logins and signups)
with the caller, the route, the ids and names the body gave (never a password, value or URL) and
the caller's address."""

from __future__ import annotations

from quart import g, request
from quart.wrappers import Response

from api.guard import SAFE_METHODS, Principal
from api.proxy import client_address
from controller.accounts import audit

# Body fields that say what was changed; anything else (passwords, values, URLs) never goes in.
NAMED_FIELDS = (
    "appId",
    "userId",
    "tokenId",
    "envId",
    "domainId",
    "deploymentId",
    "name",
    "username",
    "key",
    "hostname",
    "role",
    "rotate",
)
SIGN_IN = ("auth.login", "auth.signup")


async def record_change(response: Response) -> Response:
    if request.method in SAFE_METHODS or response.status_code >= 400:
        return response
    endpoint = request.endpoint or ""
    principal: Principal | None = g.get("principal")
    if principal is None and endpoint not in SIGN_IN:
        # Public routes that change nothing of fogbank's (the webhook's answer); their body
        # is not read again (the webhook views stream theirs and keep none).
        return response
    body = await request.get_json(silent=True) if request.is_json else None
    fields = body if isinstance(body, dict) else {}
    actor = principal.user.username if principal is not None else str(fields.get("username", ""))
    target = " ".join(
        f"{name}={fields[name]}"
        for name in NAMED_FIELDS
        if isinstance(fields.get(name), str | int | bool)
    )
    await audit.record(actor, endpoint, target, address=client_address(request))
    return response
