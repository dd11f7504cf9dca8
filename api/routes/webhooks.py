"""GitHub webhooks: the receiver (public: its signature is its authentication) and, for admins,
the per-app settings to paste into GitHub."""

from __future__ import annotations

import secrets
import time
from typing import Any

from quart import Blueprint, Response, jsonify, request
from quart_schema import document_request, document_response, validate_request, validate_response

from api.documentation import errors, raw_body
from api.envelope import ok_body
from api.guard import public, requires
from api.receiver import (
    RECEIVER_ALIAS,
    RECEIVER_PATH,
    answer_delivery,
    check_length,
    record_delivery,
)
from api.routes.apps import find_app
from api.schemas.apps import AppRef, WebhookSettings
from api.schemas.base import Envelope
from api.services import services
from controller.store.models import Role

blueprint = Blueprint("webhooks", __name__)


@blueprint.post(RECEIVER_PATH)
@blueprint.post(RECEIVER_ALIAS)
@public
@raw_body
@errors(400, 401, 413, 503)
@document_request(dict[str, Any])
@document_response(Envelope[Any], 200)
@document_response(Envelope[Any], 202)
async def github() -> tuple[Response, int]:
    """GitHub webhook receiver (authenticated by X-Hub-Signature-256).

    200 when it deployed or pinged, 202 with the reason it was ignored. A running server answers
    these POSTs in api/receiver.py's mount, before Quart, with the same core; this view is the
    route the URL map and the OpenAPI document list."""
    found = services()
    started = time.perf_counter()
    max_bytes = found.settings.github.max_body_bytes
    check_length(request.content_length, 0, max_bytes)  # refused before it is read
    body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    check_length(None, len(body), max_bytes)
    headers = {name.lower(): value for name, value in request.headers.items()}
    status, envelope = await answer_delivery(found, headers, body)
    record_delivery(found, status, time.perf_counter() - started)
    return jsonify(envelope), status


@blueprint.post("/api/apps/webhook")
@requires(Role.ADMIN)
@errors(404)
@validate_request(AppRef)
@validate_response(Envelope[WebhookSettings])
async def app_webhook(data: AppRef) -> tuple[dict[str, Any], int]:
    """The app's webhook secret and payload URL, as GitHub's "Add webhook" form asks for them."""
    app = await find_app(data.app_id)
    if not app.webhook_secret:
        # Apps created before per-app secrets existed get theirs the first time it is asked for.
        app.webhook_secret = secrets.token_hex(32)
        await app.save(update_fields=["webhook_secret"])
    settings = WebhookSettings(
        secret=app.webhook_secret,
        payloadUrl=request.url_root.rstrip("/") + RECEIVER_PATH,
        contentType="application/json",
        events=["push"],
    )
    return ok_body(settings, "Webhook settings for GitHub"), 200
