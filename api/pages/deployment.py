"""A deployment's page: what it deployed, who asked, its error, how long each stage took, and
its build log (all of it as a download; live from the seed's socket while it runs)."""

from __future__ import annotations

from quart import Response, url_for

from api.pages.apps import LOG_CAP
from api.pages.present import stage_order, stage_timings
from api.pages.site import blueprint, can, page, render
from api.routes.deployments import find_deployment
from api.services import controller
from controller.store.models import TERMINAL, App, Role

# Lines of a finished deployment's log rendered in the page; the download has them all.
PAGE_LOG_LINES = 5000


@blueprint.get("/deployments/<int:deployment_id>")
@page()
async def deployment_page(deployment_id: int) -> Response:
    """One deployment: summary, error, timings per stage, build log."""
    deployment = await find_deployment(deployment_id)
    app = await App.get(id=deployment.app_id)
    finished = deployment.status in TERMINAL
    log_text, skipped = "", 0
    if finished:
        log_text, skipped = await controller().log_tail(deployment.id, PAGE_LOG_LINES)
    return await render(
        "deployment.html",
        d=deployment,
        app=app,
        finished=finished,
        timings=stage_timings(
            deployment.stage_times, deployment.created_at, deployment.finished_at
        ),
        log_text=log_text,
        log_skipped=skipped,
        log_url=url_for("deployments.logs", deployment_id=deployment.id),
        log_cap=LOG_CAP,
        stages=stage_order(app),
        can_deploy=can(Role.DEPLOYER),
    )
