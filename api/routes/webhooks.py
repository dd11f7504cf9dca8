"""GitHub webhooks: the receiver (public: its signature is its authentication) and, for admins,
the per-app settings to paste into GitHub."""

from __future__ import annotations

import secrets

from quart import Blueprint, Response, jsonify, request

from api.body import read_body
from api.envelope import ok
from api.guard import public, requires
from api.receiver import RECEIVER_ALIAS, RECEIVER_PATH, answer_delivery, check_length
from api.routes.apps import find_app
from api.services import services
from controller.store.models import Role

blueprint = Blueprint("webhooks", __name__)


@blueprint.post(RECEIVER_PATH)
@blueprint.post(RECEIVER_ALIAS)
@public
async def github() -> tuple[Response, int]:
    """Receive one delivery: 200 when it deployed or pinged, 202 with the reason it was ignored.

    In a running server api/receiver.py's mount answers these POSTs before Quart sees them,
    with the same core; this view is the route the URL map and the OpenAPI document list."""
    found = services()
    max_bytes = found.settings.github.max_body_bytes
    check_length(request.content_length, 0, max_bytes)  # refused before it is read
    body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    check_length(None, len(body), max_bytes)
    headers = {name.lower(): value for name, value in request.headers.items()}
    status, envelope = await answer_delivery(found, headers, body)
    return jsonify(envelope), status


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
