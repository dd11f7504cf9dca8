"""The Quart app factory: routes, the error envelope, auth, and the controller's lifecycle
(database, Docker engine, workers, scheduler) bound to before_serving/after_serving."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from quart import Quart

from api.body import Int64Converter
from api.errors import register_error_handlers
from api.guard import authenticate_request
from api.receiver import ReceiverMount
from api.routes import (
    apps,
    auth,
    containers,
    deployments,
    domains,
    envs,
    health,
    openapi,
    webhooks,
    ws,
)
from api.services import EXTENSION_KEY, Services
from controller.accounts.auth import LoginLimiter
from controller.config import Settings
from controller.deploy.workers import Reconciler
from controller.edge.routing import desired_routes
from controller.edge.supervisor import Edge
from controller.errors import EdgeError, FogbankError
from controller.events.deployment_logs import DeploymentLogs, EventBus
from controller.runtime.engine import Engine
from controller.source.mirror import GitSync
from controller.store.db import close_database, open_database
from webhooks.intake import DeliveryIntake

log = logging.getLogger(__name__)

WEBSOCKET_CLOSE_SECONDS = 5.0
INTAKE_CLOSE_SECONDS = 5.0  # webhook deliveries already received get their answer

BLUEPRINTS = (
    health,
    openapi,
    auth,
    apps,
    envs,
    domains,
    containers,
    deployments,
    ws,
    webhooks,
)


def create_app(settings: Settings, *, engine: Engine | None = None) -> Quart:
    """A fogbank app; nothing touches the database or Docker until it starts serving."""
    # No static folder: fogbank serves no files, and every rule must be a documented route.
    app = Quart("fogbank", static_folder=None)
    # The largest body any route accepts (webhooks); API routes cap lower in api/body.py.
    app.config["MAX_CONTENT_LENGTH"] = max(
        settings.github.max_body_bytes, settings.server.max_body_bytes
    )
    app.config["FOGBANK_ALLOWED_ORIGINS"] = settings.server.allowed_origins
    app.config["PROPAGATE_EXCEPTIONS"] = False
    # OPTIONS answers 405 in the envelope: fogbank serves no CORS, and never an HTML answer.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.url_map.converters["int"] = Int64Converter
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
    register_error_handlers(app)
    app.before_request(authenticate_request)

    @app.before_serving
    async def start() -> None:
        for directory in (
            settings.storage.data_dir,
            settings.logs_dir,
            settings.git_dir,
            settings.builds_dir,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        await open_database(settings.database_url)
        edge = Edge(settings.edge, settings.storage.data_dir / "caddy")
        await _start_edge(edge)
        docker = engine or Engine()
        try:
            await docker.ping()
        except FogbankError as exc:
            log.error("%s; deployments will fail until it is back", exc.message)
        bus = EventBus()
        logs = DeploymentLogs(settings.logs_dir / "deployments", bus, settings.build.max_log_bytes)
        git = GitSync(
            settings.git_dir,
            allow_local=settings.git.allow_local,
            timeout_seconds=settings.git.timeout_seconds,
        )
        reconciler = Reconciler(settings, docker, git, bus, logs, edge)
        intake = DeliveryIntake(global_secret=settings.github.webhook_secret, wake=reconciler.wake)
        app.extensions[EXTENSION_KEY] = Services(
            settings=settings,
            engine=docker,
            edge=edge,
            git=git,
            bus=bus,
            logs=logs,
            reconciler=reconciler,
            login_limiter=LoginLimiter(settings.auth.login_failures_per_minute),
            intake=intake,
        )
        await reconciler.start()
        intake.start()
        log.info("fogbank ready on %s:%s", settings.server.host, settings.server.port)

    @app.after_serving
    async def stop() -> None:
        services: Services | None = app.extensions.pop(EXTENSION_KEY, None)
        try:
            if services is not None:
                try:
                    await services.intake.close(INTAKE_CLOSE_SECONDS)
                    await services.reconciler.stop()
                finally:
                    await services.edge.stop()
                    if engine is None:
                        await services.engine.close()
        finally:
            await close_database()

    # GitHub's deliveries are answered in front of Quart (api/receiver.py says why).
    app.asgi_app = ReceiverMount(app, app.asgi_app)  # type: ignore[method-assign]
    return app


async def drain(app: Quart) -> None:
    """SIGTERM, before the HTTP server stops: take no more work, let running deployments finish
    within controller.shutdown_timeout_seconds (the rest are marked interrupted and re-queued),
    then close every WebSocket with a final status frame."""
    services: Services | None = app.extensions.get(EXTENSION_KEY)
    if services is None:
        return
    await services.intake.close(INTAKE_CLOSE_SECONDS)
    await services.reconciler.stop()
    services.bus.close_all("Server shutting down")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(WEBSOCKET_CLOSE_SECONDS):
            await services.bus.wait_idle()


async def _start_edge(edge: Edge) -> None:
    """Start the edge with the database's routes. Failures are logged, not fatal: the API stays
    up, and a supervised Caddy keeps being retried and boots with these routes."""
    try:
        await edge.start()
    except EdgeError as exc:
        log.error("edge: %s; app routes are down until it is back", exc.message)
    try:
        await edge.apply(await desired_routes())
    except EdgeError as exc:
        log.error("edge: routes not applied: %s", exc.message)
