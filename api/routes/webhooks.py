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
from api.proxy import public_root
from api.receiver import (
    APP_RECEIVER_PREFIX,
    RECEIVER_ALIAS,
    RECEIVER_PATH,
    answer_delivery,
    app_receiver_path,
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
@errors(400, 401, 408, 413, 503)
@document_request(dict[str, Any])
@document_response(Envelope[Any], 200)
@document_response(Envelope[Any], 202)
async def github() -> tuple[Response, int]:
    """GitHub webhook receiver for github.webhook_secret (X-Hub-Signature-256).

    Deploys every auto-deploy app of the one repository the delivery names: 200 when it
    deployed or pinged, 202 with the reason it was ignored. An app's own secret is refused here
    (401): it signs only on the app's own URL. A running server answers these POSTs in
    api/receiver.py's mount, before Quart, with the same core; this view is the route the URL
    map and the OpenAPI document list."""
    return await _answer(None)


@blueprint.post(APP_RECEIVER_PREFIX + "<app_name>")
@public
@raw_body
@errors(400, 401, 408, 413, 503)
@document_request(dict[str, Any])
@document_response(Envelope[Any], 200)
@document_response(Envelope[Any], 202)
async def github_app(app_name: str) -> tuple[Response, int]:
    """One app's GitHub webhook receiver, signed with that app's own secret.

    Deploys that app only, when the delivery names its repository and branch; 202 with the
    reason otherwise. Answered by api/receiver.py's mount on a running server, like the global
    receiver."""
    return await _answer(app_name)


async def _answer(app_name: str | None) -> tuple[Response, int]:
    found = services()
    started = time.perf_counter()
    headers = {name.lower(): value for name, value in request.headers.items()}
    status, envelope = await answer_delivery(
        found, app_name, headers, request.body, request.content_length
    )
    record_delivery(found, status, time.perf_counter() - started)
    return jsonify(envelope), status


@blueprint.post("/api/apps/webhook")
@requires(Role.ADMIN)
@errors(404)
@validate_request(AppRef)
@validate_response(Envelope[WebhookSettings])
async def app_webhook(data: AppRef) -> tuple[dict[str, Any], int]:
    """The app's webhook secret and its own payload URL, as GitHub's "Add webhook" form asks
    for them (the secret signs only on that URL)."""
    app = await find_app(data.app_id)
    if not app.webhook_secret:
        # Apps created before per-app secrets existed get theirs the first time it is asked for.
        app.webhook_secret = secrets.token_hex(32)
        await app.save(update_fields=["webhook_secret"])
    settings = WebhookSettings(
        secret=app.webhook_secret,
        payloadUrl=public_root() + app_receiver_path(app.name),
        contentType="application/json",
        events=["push"],
    )
    return ok_body(settings, "Webhook settings for GitHub"), 200
