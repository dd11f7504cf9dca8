"""Starting an app's container the one way fogbank does: from the deployment's image, with its
env vars, limits and labels, hardened (controller/runtime/create.py), on the app's own network,
published on loopback, and held at the health gate until it answers. Used by the swap of a
deployment and by drift repair alike."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from controller.config import RuntimeSettings
from controller.runtime import networks, volumes
from controller.runtime.engine import Engine
from controller.runtime.health import HealthCheckFailed, wait_healthy
from controller.runtime.naming import container_name, image_tag, labels
from controller.runtime.state import ContainerState
from controller.store.models import App, AppType, Deployment, EnvVar

OnAttempt = Callable[[int, str], Awaitable[None]]
SECOND_NS = 1_000_000_000


async def launch(
    engine: Engine,
    app: App,
    envs: list[EnvVar],
    deployment: Deployment,
    runtime: RuntimeSettings,
) -> ContainerState:
    """Create and start the deployment's container and record where it listens. Web apps are
    published on an ephemeral loopback port behind the edge; others on their public port. The
    app's volumes are mounted, and a database joins its own database network (a linked app
    joins it too)."""
    pool = runtime.network_pool
    network = await networks.ensure_app(engine, app.name, pool) if runtime.network_per_app else None
    container = await engine.run(
        name=container_name(app, deployment),
        image=image_tag(app, deployment),
        env={e.key: e.value for e in envs if not e.is_build_arg or e.is_secret},
        labels=labels(app, deployment),
        container_port=app.port,
        host_port=None if app.app_type is AppType.WEB else app.public_port,
        restart_policy=app.restart_policy,
        memory_bytes=app.memory_limit_mb * 1024 * 1024 if app.memory_limit_mb else None,
        nano_cpus=int(app.cpu_limit * 1e9) if app.cpu_limit else None,
        volumes=await volumes.ensure(engine, app),
        network=network,
        pids_limit=runtime.pids_limit or None,
        joined=await _networks(engine, app, pool),
        healthcheck=_healthcheck(app.health_command),
        command=app.command,
    )
    deployment.container_id = container.id
    deployment.host_port = container.host_port
    await deployment.save(update_fields=["container_id", "host_port", "updated_at"])
    return container


async def _networks(engine: Engine, app: App, pool: str) -> dict[str, list[str]]:
    joined: dict[str, list[str]] = {}
    if app.app_type is AppType.DATABASE:
        joined[await networks.ensure_database(engine, app.name, pool)] = [app.name]
    if app.linked_database_id is not None:
        database = await App.get_or_none(id=app.linked_database_id)
        if database is not None:
            joined[await networks.ensure_database(engine, database.name, pool)] = []
    return joined


def _healthcheck(command: list[str]) -> dict[str, Any] | None:
    """Docker's form of the app's health command: run every second, 5 s each at most."""
    if not command:
        return None
    return {"test": ["CMD", *command], "interval": SECOND_NS, "timeout": 5 * SECOND_NS}


def health_path(app: App) -> str | None:
    """HTTP path of the health gate; None means a TCP connect (service and database apps)."""
    return app.health_check_path if app.app_type is AppType.WEB else None


async def wait_until_healthy(
    engine: Engine,
    app: App,
    container: ContainerState,
    *,
    interval_seconds: float,
    on_attempt: OnAttempt,
) -> None:
    """Hold a started container at the health gate (HealthCheckFailed at its deadline)."""
    if container.host_port is None:
        raise HealthCheckFailed("container has no published port")
    await wait_healthy(
        engine,
        container.id,
        host_port=container.host_port,
        http_path=health_path(app),
        command=bool(app.health_command),
        deadline_seconds=float(app.health_timeout_seconds),
        interval_seconds=interval_seconds,
        on_attempt=on_attempt,
    )


async def launch_healthy(
    engine: Engine,
    app: App,
    envs: list[EnvVar],
    deployment: Deployment,
    runtime: RuntimeSettings,
    *,
    interval_seconds: float,
    on_attempt: OnAttempt,
) -> ContainerState:
    """Launch, then hold at the health gate; a container that fails it is removed."""
    container = await launch(engine, app, envs, deployment, runtime)
    try:
        await wait_until_healthy(
            engine, app, container, interval_seconds=interval_seconds, on_attempt=on_attempt
        )
    except BaseException:
        await asyncio.shield(engine.remove_container(container.id))
        raise
    return container
