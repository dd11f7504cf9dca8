"""Notification targets (per app or global) and the test notification."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_request, validate_response

from api.documentation import errors
from api.envelope import ok_body
from api.guard import current_principal, requires
from api.routes.apps import find_app
from api.schemas.base import Deleted, Envelope
from api.schemas.notifications import (
    TargetCreate,
    TargetCreated,
    TargetList,
    TargetOut,
    TargetRef,
    TargetUpdate,
    TestResult,
)
from api.services import controller
from controller.notify.manage import find_target
from controller.store.models import Role
from controller.store.reporting import NotificationTarget

blueprint = Blueprint("notifications", __name__)
Answer = tuple[dict[str, Any], int]


@blueprint.post("/api/notifications/targets/create")
@requires(Role.ADMIN)
@errors(404)
@validate_request(TargetCreate)
@validate_response(Envelope[TargetCreated], 201)
async def create(data: TargetCreate) -> Answer:
    """Add a notification target: webhook (signed), Slack, Discord or email."""
    if data.app_id is not None:
        await find_app(data.app_id)
    target, secret = await controller().reporting.create_target(data.model_dump())
    created = TargetCreated(target=TargetOut.of(target), secret=secret or None)
    return ok_body(created, "Notification target created"), 201


@blueprint.post("/api/notifications/targets/list")
@requires(Role.VIEWER)
@errors(404)
@validate_request(TargetList)
@validate_response(Envelope[list[TargetOut]])
async def list_targets(data: TargetList) -> Answer:
    """An app's targets, or the global ones (no appId)."""
    if data.app_id is not None:
        await find_app(data.app_id)
    found = await NotificationTarget.filter(app_id=data.app_id).order_by("id")
    return ok_body([TargetOut.of(target) for target in found], "Notification targets"), 200


@blueprint.put("/api/notifications/targets/update")
@requires(Role.ADMIN)
@errors(404)
@validate_request(TargetUpdate)
@validate_response(Envelope[TargetOut])
async def update(data: TargetUpdate) -> Answer:
    """Change a target (its URL and secret are write-only: send them to replace them)."""
    target = await find_target(data.target_id)
    fields = {
        name: value
        for name, value in data.model_dump(exclude_unset=True, exclude={"target_id"}).items()
        if value is not None
    }
    updated = await controller().reporting.update_target(target, fields)
    return ok_body(TargetOut.of(updated), "Notification target updated"), 200


@blueprint.delete("/api/notifications/targets/delete")
@requires(Role.ADMIN)
@errors(404)
@validate_request(TargetRef)
@validate_response(Envelope[Deleted])
async def delete(data: TargetRef) -> Answer:
    """Remove a target (messages still waiting for it fail)."""
    target = await find_target(data.target_id)
    await controller().reporting.delete_target(target)
    return ok_body(Deleted(id=data.target_id), "Notification target deleted"), 200


@blueprint.post("/api/notifications/test")
@requires(Role.ADMIN)
@errors(404)
@validate_request(TargetRef)
@validate_response(Envelope[TestResult])
async def test(data: TargetRef) -> Answer:
    """Send a test notification to a target now, through the outbox; how its first try went."""
    target = await find_target(data.target_id)
    who = current_principal().user.username
    message = await controller().reporting.test_target(target, who)
    return ok_body(TestResult.of(message), f"Test notification {message.state}"), 200
