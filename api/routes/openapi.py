"""GET /openapi.json: public, like most APIs' schema documents; it holds no secrets."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, jsonify

from api.guard import public
from api.openapi import build_document

blueprint = Blueprint("openapi", __name__)


@blueprint.get("/openapi.json")
@public
async def document() -> Response:
    return jsonify(build_document(current_app))
