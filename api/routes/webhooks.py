"""GitHub webhooks: the receiver (public: its signature is its authentication) and, for admins,
the per-app settings to paste into GitHub."""

from __future__ import annotations

import secrets

from quart import Blueprint, Response, request

from api.body import read_body
from api.envelope import ok
from api.guard import public, requires
from api.routes.apps import find_app
from api.services import services
from controller.errors import PayloadTooLarge
from controller.models import Role
from webhooks.dispatch import Delivery, receive

blueprint = Blueprint("webhooks", __name__)

RECEIVER_PATH = "/webhooks/github"


@blueprint.post(RECEIVER_PATH)
@blueprint.post("/api/github/webhook")
@public
async def github() -> tuple[Response, int]:
    """Receive one delivery: 200 when it deployed or pinged, 202 with the reason it was ignored."""
    found = services()
    body = await _raw_body(found.settings.github.max_body_bytes)
    delivery = Delivery(
        event=request.headers.get("X-GitHub-Event", "").strip(),
        delivery_id=request.headers.get("X-GitHub-Delivery", "").strip(),
        signature=request.headers.get("X-Hub-Signature-256"),
        body=body,
        content_type=request.headers.get("Content-Type", "application/json"),
    )
    answer = await found.intake.submit(receive(delivery))
    return ok(answer.data, answer.message, answer.status)


@blueprint.post("/api/apps/webhook")
@requires(Role.ADMIN)
async def app_webhook() -> tuple[Response, int]:
    """The app's webhook secret and payload URL, as GitHub's "Add webhook" form asks for them."""
    body = (await read_body()).allow_only("appId")
    app = await find_app(body.require_int("appId"))
    if not app.webhook_secret:
        # Apps created before per-app secrets existed get theirs the first time it is asked for.
        app.webhook_secret = secrets.token_hex(32)
        await app.save(update_fields=["webhook_secret"])
    return ok(
        {
            "secret": app.webhook_secret,
            "payloadUrl": request.url_root.rstrip("/") + RECEIVER_PATH,
            "contentType": "application/json",
            "events": ["push"],
        },
        "Webhook settings for GitHub",
    )


async def _raw_body(max_bytes: int) -> bytes:
    """The exact bytes GitHub signed, refused with 413 above `max_bytes`."""
    # Content-Length first, so an oversized delivery is refused before it is read.
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"webhook body is larger than {max_bytes} bytes")
    raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"webhook body is larger than {max_bytes} bytes")
    return raw
