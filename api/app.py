"""The Quart app factory: routes, the error envelope, auth, and the controller's lifecycle
(database, Docker engine, workers, scheduler) bound to before_serving/after_serving."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from quart import Quart

from api import documentation, pages, proxy
from api.access import AccessLog
from api.auditing import record_change
from api.errors import register_error_handlers
from api.guard import HOST_SESSION_COOKIE, SESSION_COOKIE, authenticate_request
from api.hosts import HostGuard
from api.receiver import ReceiverMount
from api.requests import MAX_BODY_CONFIG_KEY, ApiRequest, Int64Converter
from api.routes import (
    app_logs,
    apps,
    audit,
    auth,
    containers,
    deploy_keys,
    deployments,
    docs,
    domains,
    envs,
    github,
    health,
    instances,
    metrics,
    notifications,
    registries,
    tokens,
    users,
    webhooks,
    ws,
    ws_apps,
)
from api.schemas.apps import ALLOW_LOCAL_CONFIG_KEY
from api.services import EXTENSION_KEY, Services
from api.sockets import CredentialWatch
from api.wsframes import RawSendMount
from controller.accounts.limiter import LoginLimiter
from controller.config import Settings
from controller.runtime.engine import Engine
from controller.service import Controller
from controller.store.db import ping_database
from controller.upkeep.readiness import Readiness
from webhooks.intake import DeliveryIntake
from webhooks.reception import Reception, ReceptionLimits

log = logging.getLogger(__name__)

WEBSOCKET_CLOSE_SECONDS = 5.0
INTAKE_CLOSE_SECONDS = 5.0  # webhook deliveries already received get their answer

BLUEPRINTS = (
    health,
    docs,
    auth,
    apps,
    deploy_keys,
    envs,
    domains,
    containers,
    deployments,
    github,
    notifications,
    metrics,
    registries,
    ws,
    ws_apps,
    app_logs,
    webhooks,
    tokens,
    users,
    audit,
    instances,
    pages,
)


def create_app(settings: Settings, *, engine: Engine | None = None) -> Quart:
    """A fogbank app; nothing touches the database or Docker until it starts serving."""
    # No static folder: every rule must be a documented route (the docs page serves its own).
    app = Quart("fogbank", static_folder=None)
    # The largest body any route accepts (webhooks); JSON API bodies cap lower (api/requests.py).
    app.config["MAX_CONTENT_LENGTH"] = max(
        settings.github.max_body_bytes, settings.server.max_body_bytes
    )
    app.config[MAX_BODY_CONFIG_KEY] = settings.server.max_body_bytes
    # Quart's own deadline for a request body (RequestTimeout: 408 in the envelope).
    app.config["BODY_TIMEOUT"] = settings.server.read_timeout_seconds
    app.config[ALLOW_LOCAL_CONFIG_KEY] = settings.git.allow_local
    app.request_class = ApiRequest
    public_url = urlsplit(settings.server.public_url)
    public_origin = f"{public_url.scheme}://{public_url.netloc}" if public_url.netloc else ""
    app.config["FOGBANK_ALLOWED_ORIGINS"] = (
        *settings.server.allowed_origins,
        *([public_origin] if public_origin else []),
    )
    app.config["FOGBANK_SESSION_COOKIE"] = (
        HOST_SESSION_COOKIE if public_url.scheme == "https" else SESSION_COOKIE
    )
    app.config[proxy.CONFIG_KEY] = proxy.networks(settings.server.trusted_proxies)
    app.config[proxy.PUBLIC_URL_KEY] = settings.server.public_url
    if public_origin and not settings.server.trusted_proxies:
        log.warning(
            "server.public_url is set but server.trusted_proxies is empty: every client behind "
            'the edge counts as one address for the login limiter (set ["127.0.0.1"])'
        )
    app.config["PROPAGATE_EXCEPTIONS"] = False
    # OPTIONS answers 405 in the envelope: fogbank serves no CORS, and never an HTML answer.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.url_map.converters["int"] = Int64Converter
    documentation.install(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
    register_error_handlers(app)
    app.before_request(authenticate_request)
    app.after_request(record_change)

    @app.before_serving
    async def start() -> None:
        found = Controller(settings, engine=engine)
        try:
            await found.start()
        except BaseException:
            # Let go of what the start opened: the database's thread alone kept a `fogbank
            # serve` whose start failed alive (and deaf to SIGTERM) instead of exiting.
            try:
                await found.stop()
            except Exception:
                log.exception("stopping after a failed start")
            raise
        intake = DeliveryIntake(request=found.request_deployments)
        sockets = CredentialWatch()
        app.extensions[EXTENSION_KEY] = Services(
            controller=found,
            intake=intake,
            reception=Reception(reception_limits(settings), intake),
            login_limiter=LoginLimiter(
                per_username=settings.auth.login_failures_per_minute,
                per_address=settings.auth.login_failures_per_address_per_minute,
                overall=settings.auth.login_failures_overall_per_minute,
            ),
            sockets=sockets,
            readiness=Readiness(ping_database, found.engine.ping, found.edge.ping),
        )
        intake.start()
        await sockets.start()
        log.info("fogbank ready on %s:%s", settings.server.host, settings.server.port)

    @app.after_serving
    async def stop() -> None:
        services: Services | None = app.extensions.pop(EXTENSION_KEY, None)
        if services is None:
            return
        try:
            await services.readiness.close()
            await services.sockets.stop()
            await services.intake.close(INTAKE_CLOSE_SECONDS)
        finally:
            await services.controller.stop()

    # GitHub's deliveries are answered in front of Quart (api/receiver.py says why); the Host
    # allow-list stands in front of both; in front of everything, the request id and the access
    # log (api/access.py), so a refused Host is logged too.
    # The public URL's host is one of fogbank's names: the edge passes it on as the Host.
    names = (
        *settings.server.allowed_hosts,
        *([public_url.hostname] if public_url.hostname else []),
    )
    guarded = HostGuard(ReceiverMount(app, app.asgi_app), settings.server.host, names)
    # Outermost: WebSockets keep the server's own send at hand, to write many frames at once
    # (api/wsframes.py).
    app.asgi_app = RawSendMount(  # type: ignore[method-assign]
        AccessLog(guarded, enabled=settings.log.access_log)
    )
    return app


def reception_limits(settings: Settings) -> ReceptionLimits:
    github = settings.github
    return ReceptionLimits(
        global_secret=github.webhook_secret,
        max_body_bytes=github.max_body_bytes,
        read_timeout_seconds=github.read_timeout_seconds,
        max_unverified=github.max_unverified_requests,
        spool_dir=settings.storage.data_dir / "spool",
    )


async def drain(app: Quart) -> None:
    """SIGTERM, before the HTTP server stops: take no more work, let running deployments finish
    within controller.shutdown_timeout_seconds (the rest are marked interrupted and re-queued),
    then close every WebSocket with a final status frame."""
    services: Services | None = app.extensions.get(EXTENSION_KEY)
    if services is None:
        return
    await services.intake.close(INTAKE_CLOSE_SECONDS)
    await services.controller.drain()
    services.controller.close_watchers("Server shutting down")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(WEBSOCKET_CLOSE_SECONDS):
            await services.controller.watchers_gone()
