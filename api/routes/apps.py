"""Apps, with Mist's route names: create, getById, getAll, update, delete."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response
from quart_schema import document_response, validate_request, validate_response

from api.answers import app_rows, listing
from api.documentation import errors
from api.envelope import ok_body
from api.guard import requires
from api.schemas.apps import (
    AppCreate,
    AppDelete,
    AppDeleted,
    AppEventsRequest,
    AppOut,
    AppRef,
    AppState,
    AppUpdate,
    Connection,
)
from api.schemas.base import Envelope
from api.services import controller
from controller.errors import NotFound
from controller.store.models import App, Role

blueprint = Blueprint("apps", __name__)
Answer = tuple[dict[str, Any], int]


async def find_app(app_id: int) -> App:
    app = await App.get_or_none(id=app_id)
    if app is None:
        raise _missing(app_id)
    return app


async def ensure_app(app_id: int) -> None:
    """404 unless the app exists (nothing of it is read)."""
    if not await App.exists(id=app_id):
        raise _missing(app_id)


def _missing(app_id: int) -> NotFound:
    return NotFound(f"app {app_id} does not exist", code="APP_NOT_FOUND")


@blueprint.post("/api/apps/create")
@requires(Role.ADMIN)
@errors(409)
@validate_request(AppCreate)
@validate_response(Envelope[AppOut], 201)
async def create(data: Any) -> Answer:
    """Create an app."""
    app = await controller().create_app(data.model_dump(exclude_unset=True))
    return ok_body(AppOut.model_validate(app), "App created"), 201


@blueprint.post("/api/apps/getById")
@requires(Role.VIEWER)
@errors(404)
@validate_request(AppRef)
@validate_response(Envelope[AppState])
async def get_by_id(data: AppRef) -> Answer:
    """One app, with its sync and health."""
    app = await find_app(data.app_id)
    return ok_body(_with_state(app), "App retrieved successfully"), 200


@blueprint.get("/api/apps/getAll")
@requires(Role.VIEWER)
@document_response(Envelope[list[AppState]])
async def get_all() -> Response:
    """Every app, with its sync and health."""
    # Plain values, one encode (api/answers.py): the answer AppState describes.
    return listing(await app_rows(controller().app_state), "Apps retrieved successfully")


def _with_state(app: App) -> AppState:
    """The app with what the reconciler last saw: sync and health, reported separately."""
    state = controller().app_state(app.id)
    fields = AppOut.model_validate(app).model_dump()
    return AppState.model_validate(
        {
            **fields,
            "sync": state.sync,
            "health": state.health,
            "sync_detail": state.detail,
            "checked_at": state.checked_at,
        }
    )


@blueprint.post("/api/apps/events")
@requires(Role.VIEWER)
@errors(404)
@validate_request(AppEventsRequest)
@validate_response(Envelope[list[str]])
async def events(data: AppEventsRequest) -> Answer:
    """The app's event log (drift found and repaired), newest last."""
    app = await find_app(data.app_id)
    return ok_body(controller().app_event_log(app.name, data.limit), "App events"), 200


@blueprint.put("/api/apps/update")
@requires(Role.ADMIN)
@errors(404, 409)
@validate_request(AppUpdate)
@validate_response(Envelope[AppOut])
async def update(data: Any) -> Answer:
    """Change an app's settings (its name is fixed)."""
    fields = data.model_dump(exclude_unset=True, exclude={"app_id"})
    app = await find_app(data.app_id)
    updated = await controller().update_app(app, fields)
    return ok_body(AppOut.model_validate(updated), "App updated"), 200


@blueprint.delete("/api/apps/delete")
@requires(Role.ADMIN)
@errors(404, 409, 503)
@validate_request(AppDelete)
@validate_response(Envelope[AppDeleted])
async def delete(data: AppDelete) -> Answer:
    """Delete an app with its containers, images, mirror and logs; its volumes only when asked."""
    app = await find_app(data.app_id)
    names = await controller().delete_app(app, delete_volumes=data.delete_volumes)
    gone = AppDeleted(
        id=data.app_id,
        volumes_kept=[] if data.delete_volumes else names,
        volumes_removed=names if data.delete_volumes else [],
    )
    return ok_body(gone, "App deleted with its containers and images"), 200


@blueprint.post("/api/apps/connection")
@requires(Role.VIEWER)
@errors(404, 409)
@validate_request(AppRef)
@validate_response(Envelope[Connection])
async def connection(data: AppRef) -> Answer:
    """How to reach a database app: host, port, user, database; the password masked."""
    app = await find_app(data.app_id)
    info = Connection.model_validate(await controller().sources.connection_info(app))
    return ok_body(info, "Connection info"), 200
