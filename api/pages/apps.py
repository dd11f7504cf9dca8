"""The apps page (every app, its state and deployments, the create form) and an app's page
(live deployment, history, settings). Both read through the controller's face; the app page's
changing part is also served alone (/apps/<id>/state) for the page to refresh itself."""

from __future__ import annotations

from typing import Any

from quart import Response, request

from api.pages.present import stage_order
from api.pages.site import blueprint, can, page, render
from api.proxy import public_root
from api.receiver import app_receiver_path
from api.requests import INT64_MAX
from api.routes.apps import find_app
from api.services import controller
from controller.apps.overview import live_one
from controller.apps.validation import redact_url
from controller.errors import NotFound
from controller.events.deployment_logs import MASK
from controller.store.models import App, Domain, EnvVar, Role

HISTORY_PAGE = 20
# Lines of a build log the page keeps (older ones leave the page; the full log is a link away).
LOG_CAP = 2000
EVENT_LINES = 100
# Lines of the app's own output shown when the runtime log panel starts following.
RUNTIME_TAIL = 200


@blueprint.get("/")
@page()
async def apps() -> Response:
    """Every app: status, sync, health, active commit, last deployment; admins create apps."""
    found = controller()
    summaries = await found.overview.app_summaries()
    states = {s.app["id"]: found.app_state(s.app["id"]) for s in summaries}
    return await render("apps.html", summaries=summaries, states=states, admin=can(Role.ADMIN))


@blueprint.get("/apps/<int:app_id>")
@page()
async def app_page(app_id: int) -> Response:
    """One app: live deployment, history (paged, newest first), runtime logs, env vars, domains,
    webhook, event log; controls by role."""
    app = await find_app(app_id)
    context = await _state(app)
    envs = await EnvVar.filter(app_id=app.id).order_by("key")
    domains = await Domain.filter(app_id=app.id).order_by("hostname")
    return await render(
        "app.html",
        **context,
        log_cap=LOG_CAP,
        runtime_tail=RUNTIME_TAIL,
        stages=stage_order(app),
        envs=envs,
        mask=MASK,
        domains=domains,
        events=controller().app_event_log(app.name, EVENT_LINES),
        repository=redact_url(app.git_repository),
        payload_url=public_root() + app_receiver_path(app.name),
        admin=can(Role.ADMIN),
    )


@blueprint.get("/apps/<int:app_id>/state")
@page()
async def app_state(app_id: int) -> Response:
    """The part of an app's page that each deployment changes: its state and history."""
    app = await find_app(app_id)
    return await render("_state.html", **await _state(app))


async def _state(app: App) -> dict[str, Any]:
    found = controller()
    before = _before()
    rows = await found.overview.history(app.id, HISTORY_PAGE + 1, before)
    history, more = rows[:HISTORY_PAGE], len(rows) > HISTORY_PAGE
    newest = history if before is None else await found.overview.history(app.id, HISTORY_PAGE)
    summary = await found.overview.app_summary(app.id)
    if summary is None:
        raise NotFound(f"app {app.id} does not exist", code="APP_NOT_FOUND")
    return {
        "app": app,
        "summary": summary,
        "state": found.app_state(app.id),
        "history": history,
        "before": before,
        "older": history[-1]["id"] if more else None,
        "live": live_one(newest),
        "can_deploy": can(Role.DEPLOYER),
    }


def _before() -> int | None:
    """?before=<id>: the history page older than that id (anything else: the newest page)."""
    raw = request.args.get("before", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    value = int(raw)
    return value if 1 <= value <= INT64_MAX else None
