"""An app's Swarm service, written once: replicas, health check, start-first updates that Swarm
rolls back on failure, resources and restart policy from the app's settings, and every object
labelled so fogbank finds its own (and nothing else on the engine)."""

from __future__ import annotations

from typing import Any, Literal

from docker.types import (
    EndpointSpec,
    Healthcheck,
    Resources,
    RestartPolicy,
    RollbackConfig,
    ServiceMode,
    UpdateConfig,
)

from controller.config import RuntimeSettings
from controller.runtime import restart_policy as restart_policies
from controller.runtime.naming import labels
from controller.store.models import App, AppType, Deployment, EnvVar, UpdateOrder

NANOS = 1_000_000_000
RUNTIME_LABEL = "fogbank.runtime"
SWARM_TASK_LABEL = "com.docker.swarm.service.id"  # the engine's own, on every task container
HEALTH_RETRIES = 3
RESTART_DELAY_NANOS = NANOS  # a crashing task is restarted after a pause, not in a tight loop
HEALTH_PROBE_SECONDS = 2
# Swarm's own policy names for the ones an app may ask Docker for.
SWARM_CONDITIONS: dict[str, Condition] = {
    "no": "none",
    "always": "any",
    "unless-stopped": "any",
    "on-failure": "on-failure",
}


def service_name(app: App) -> str:
    """One service per app, kept across deployments (an update replaces its tasks)."""
    return f"fogbank-{app.name}"


def registry_ref(registry: str, local_tag: str) -> str:
    """Where the image of `local_tag` (fogbank/<app>:<deployment>) lives in the registry."""
    return f"{registry}/{local_tag}"


Order = Literal["start-first", "stop-first"]
Condition = Literal["none", "on-failure", "any"]


def update_order(app: App) -> Order:
    """Only HTTP apps may run old and new tasks side by side (swap.is_start_first)."""
    start_first = app.app_type is AppType.WEB and app.update_order is UpdateOrder.START_FIRST
    return "start-first" if start_first else "stop-first"


def healthcheck(app: App, runtime: RuntimeSettings, interval_seconds: float) -> Healthcheck:
    """Web apps: the health command inside each task; a task counts as started only once it
    passes, and one that never does fails (and its update is rolled back)."""
    if app.app_type is not AppType.WEB:
        return Healthcheck(test=["NONE"])
    return Healthcheck(
        test=["CMD", *runtime.health_argv(app.port, app.health_check_path)],
        interval=int(max(1.0, interval_seconds) * NANOS),
        timeout=HEALTH_PROBE_SECONDS * NANOS,
        retries=HEALTH_RETRIES,
        start_period=int(app.health_timeout_seconds * NANOS),
    )


def service_spec(
    app: App,
    envs: list[EnvVar],
    deployment: Deployment,
    image: str,
    runtime: RuntimeSettings,
    interval_seconds: float,
    stop_timeout_seconds: int,
) -> dict[str, Any]:
    """Keyword arguments of `services.create` / `Service.update` for this deployment."""
    condition, retries = restart_policies.parse(app.restart_policy)
    order = update_order(app)
    object_labels = labels(app, deployment)
    return {
        "image": image,
        "name": service_name(app),
        "labels": {**object_labels, RUNTIME_LABEL: "swarm"},
        "container_labels": object_labels,
        "env": [f"{e.key}={e.value}" for e in envs if not e.is_build_arg or e.is_secret],
        "healthcheck": healthcheck(app, runtime, interval_seconds),
        "mode": ServiceMode("replicated", replicas=runtime.replicas),
        "update_config": UpdateConfig(
            parallelism=1,
            order=order,
            failure_action="rollback",
            monitor=max(1, app.stabilization_seconds) * NANOS,
            max_failure_ratio=0,
        ),
        "rollback_config": RollbackConfig(parallelism=1, order=order, failure_action="pause"),
        "resources": Resources(
            cpu_limit=int(app.cpu_limit * NANOS) if app.cpu_limit else None,
            mem_limit=app.memory_limit_mb * 1024 * 1024 if app.memory_limit_mb else None,
        ),
        "restart_policy": RestartPolicy(
            condition=SWARM_CONDITIONS[condition], delay=RESTART_DELAY_NANOS, max_attempts=retries
        ),
        "stop_grace_period": stop_timeout_seconds * NANOS,
        # As for a plain container (engine.run): an init as PID 1 passes SIGTERM on, so a task
        # Swarm stops ends at once rather than serving on until the grace period's SIGKILL.
        "init": True,
        # Each task publishes on a host port of its own that the engine picks; the edge
        # balances over the tasks that passed their health check (SwarmSwapper).
        "endpoint_spec": EndpointSpec(mode="dnsrr", ports=[_host_mode(app.port)]),
    }


def _host_mode(target_port: int) -> Any:  # Any: the SDK stubs type a port list as strings
    return {"TargetPort": target_port, "Protocol": "tcp", "PublishMode": "host"}
