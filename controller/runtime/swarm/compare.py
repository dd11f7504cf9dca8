"""What of a live Swarm service differs from the spec fogbank gives it: only the parts fogbank
sets are compared, with what the engine fills in itself (versions, defaults, empty sections)
read the same way on both sides. Also whether an update has settled: every task runs the
service's current task template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UPDATE_KEYS = ("Parallelism", "Order", "FailureAction", "Monitor", "MaxFailureRatio")
HEALTH_KEYS = ("Test", "Interval", "Timeout", "Retries", "StartPeriod")
RESTART_KEYS = ("Condition", "Delay", "MaxAttempts")
# The parts of a task template a task carries (a task has no Runtime of its own).
TASK_KEYS = ("ContainerSpec", "Resources", "RestartPolicy", "Placement", "ForceUpdate")


def engine_spec(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The spec, in the engine's JSON form, that `services.create(**kwargs)` sends for
    spec.service_spec's keyword arguments (the SDK's types already hold that form)."""
    return {
        "Name": kwargs["name"],
        "Labels": kwargs["labels"],
        "Mode": {"Replicated": {"Replicas": kwargs["mode"].replicas}},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": kwargs["image"],
                "Labels": kwargs["container_labels"],
                "Env": kwargs["env"],
                "Healthcheck": kwargs["healthcheck"],
                "StopGracePeriod": kwargs["stop_grace_period"],
                "Init": kwargs["init"],
            },
            "Resources": kwargs["resources"],
            "RestartPolicy": kwargs["restart_policy"],
        },
        "UpdateConfig": kwargs["update_config"],
        "RollbackConfig": kwargs["rollback_config"],
        "EndpointSpec": kwargs["endpoint_spec"],
    }


def owned(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a service spec (engine JSON form) that fogbank sets, by a name a user
    reads; a missing, zero or empty value reads as None everywhere."""
    template = spec.get("TaskTemplate") or {}
    container = template.get("ContainerSpec") or {}
    limits = (template.get("Resources") or {}).get("Limits") or {}
    endpoint = spec.get("EndpointSpec") or {}
    replicated = (spec.get("Mode") or {}).get("Replicated") or {}
    return {
        "image": container.get("Image") or None,
        "replicas": replicated.get("Replicas") or None,
        # Sorted: the order of the app's variables is the database's, not a setting.
        "env": sorted(container.get("Env") or []),
        "labels": dict(spec.get("Labels") or {}),
        "container labels": dict(container.get("Labels") or {}),
        "health check": _pick(container.get("Healthcheck"), HEALTH_KEYS),
        "update config": _pick(spec.get("UpdateConfig"), UPDATE_KEYS),
        "rollback config": _pick(spec.get("RollbackConfig"), UPDATE_KEYS),
        "resources": _pick(limits, ("NanoCPUs", "MemoryBytes")),
        "restart policy": _pick(template.get("RestartPolicy"), RESTART_KEYS),
        "stop grace period": container.get("StopGracePeriod") or None,
        "init": bool(container.get("Init")),
        "endpoint mode": endpoint.get("Mode") or "vip",
        "published ports": sorted(_port(port) for port in endpoint.get("Ports") or []),
    }


def differences(wanted: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """The names of the owned parts (see owned) whose values differ, in owned's order."""
    mine, theirs = owned(wanted), owned(live)
    return [name for name, value in mine.items() if theirs.get(name) != value]


def settled(attrs: Mapping[str, Any], tasks: list[dict[str, Any]]) -> bool:
    """Every task Swarm means to run is running (with a health check: passed it) the service's
    current task template, and there are as many as its replicas."""
    spec = attrs.get("Spec") or {}
    template = _task_part(spec.get("TaskTemplate"))
    wanted = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0)
    kept = [task for task in tasks if task.get("DesiredState") == "running"]
    return len(kept) == wanted and all(
        (task.get("Status") or {}).get("State") == "running"
        and _task_part(task.get("Spec")) == template
        for task in kept
    )


def _task_part(template: Mapping[str, Any] | None) -> dict[str, Any]:
    found = template or {}
    return {key: found.get(key) or None for key in TASK_KEYS}


def _pick(section: Mapping[str, Any] | None, keys: tuple[str, ...]) -> tuple[Any, ...]:
    found = section or {}
    return tuple(found.get(key) or None for key in keys)


def _port(port: Mapping[str, Any]) -> tuple[str, int, int, str]:
    return (
        str(port.get("Protocol") or "tcp"),
        int(port.get("TargetPort") or 0),
        int(port.get("PublishedPort") or 0),
        str(port.get("PublishMode") or "ingress"),
    )
