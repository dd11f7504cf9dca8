"""Start, stop and restart the container of an app's active deployment, and report on it."""

from __future__ import annotations

from typing import Any, Literal

from controller.edge.switchboard import Switchboard
from controller.errors import Conflict
from controller.runtime.engine import Engine
from controller.store.models import App, Deployment

Action = Literal["start", "stop", "restart"]


async def active_deployment(app: App) -> Deployment:
    deployment = await Deployment.filter(app_id=app.id, is_active=True).first()
    if deployment is None:
        raise Conflict(f"app '{app.name}' has no active deployment yet", code="NOT_DEPLOYED")
    if not deployment.container_id:
        # Its tasks belong to a Swarm service (runtime.backend = "swarm"), which Swarm runs.
        raise Conflict(
            f"app '{app.name}' runs as a Swarm service, without a container of its own",
            code="NO_CONTAINER",
        )
    return deployment


async def control_container(
    app: App, action: Action, engine: Engine, switchboard: Switchboard, stop_timeout_seconds: int
) -> dict[str, Any]:
    """Act on the active container; the edge follows if its published port changed."""
    deployment = await active_deployment(app)
    # Remembered, so drift repair does not start a container someone stopped on purpose.
    app.container_stopped = action == "stop"
    await app.save(update_fields=["container_stopped", "updated_at"])
    if action in ("stop", "restart"):
        await engine.stop(deployment.container_id, stop_timeout_seconds)
    if action in ("start", "restart"):
        await engine.start(deployment.container_id)
        state = await engine.inspect(deployment.container_id)
        if state is not None and state.host_port != deployment.host_port:
            # Docker may pick a new ephemeral port on start: point the edge at it.
            deployment.host_port = state.host_port
            await deployment.save(update_fields=["host_port", "updated_at"])
            await switchboard.refresh()
    return await container_status(app, engine)


async def container_status(app: App, engine: Engine) -> dict[str, Any]:
    deployment = await active_deployment(app)
    state = await engine.inspect(deployment.container_id)
    return {
        "app_id": app.id,
        "deployment_id": deployment.id,
        "container_id": deployment.container_id,
        "exists": state is not None,
        "running": bool(state and state.running),
        "status": state.status if state else "missing",
        "exit_code": state.exit_code if state else None,
        "restart_count": state.restart_count if state else 0,
        "host_port": state.host_port if state else None,
        "image": state.image if state else deployment.image_tag,
    }
