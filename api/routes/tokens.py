"""API tokens: create (shown once, optionally expiring), list (never their values), revoke.
Everyone manages their own; admins see and revoke everyone's."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_request, validate_response

from api.documentation import errors
from api.envelope import ok_body
from api.guard import current_principal
from api.schemas.auth import TokenCreate, TokenInfo, TokenOut, TokenRef
from api.schemas.base import Deleted, Envelope
from controller.accounts import auth
from controller.errors import NotFound
from controller.store.models import ApiToken, Role

blueprint = Blueprint("tokens", __name__)
Answer = tuple[dict[str, Any], int]


def _info(token: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        name=token.name,
        username=token.user.username,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        expires_at=token.expires_at,
    )


@blueprint.post("/api/tokens/create")
@errors(422)
@validate_request(TokenCreate)
@validate_response(Envelope[TokenOut], 201)
async def create(data: TokenCreate) -> Answer:
    """An API token with the caller's role, shown once; `expiresAt` ends it by itself."""
    user = current_principal().user
    raw = await auth.create_api_token(user, data.name, data.expires_at)
    token = await ApiToken.get(token_hash=auth.digest(raw))
    answer = TokenOut(id=token.id, token=raw, name=token.name, expires_at=token.expires_at)
    return ok_body(answer, "Token created; it is shown only once"), 201


@blueprint.get("/api/tokens/getAll")
@validate_response(Envelope[list[TokenInfo]])
async def get_all() -> Answer:
    """The caller's tokens (an admin's: everyone's), newest first, without their values."""
    principal = current_principal()
    owner = None if principal.role is Role.ADMIN else principal.user
    return ok_body([_info(token) for token in await auth.tokens_of(owner)], "Tokens"), 200


@blueprint.delete("/api/tokens/revoke")
@errors(404)
@validate_request(TokenRef)
@validate_response(Envelope[Deleted])
async def revoke(data: TokenRef) -> Answer:
    """Revoke a token: its next request gets 401, and a WebSocket open with it closes (4401)."""
    principal = current_principal()
    token = await ApiToken.get_or_none(id=data.token_id)
    if token is None or (principal.role is not Role.ADMIN and token.user_id != principal.user.id):
        raise NotFound(f"token {data.token_id} does not exist", code="TOKEN_NOT_FOUND")
    await auth.revoke_token(token)
    return ok_body(Deleted(id=data.token_id), "Token revoked"), 200
