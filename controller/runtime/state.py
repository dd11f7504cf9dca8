"""What fogbank reads of a container: its state, as parsed from `docker inspect`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ContainerState:
    id: str
    name: str
    running: bool
    status: str
    exit_code: int | None
    restart_count: int
    host_port: int | None
    image: str  # the reference the container was created from (Config.Image)
    labels: dict[str, str]
    # Docker's health status when the container has a health command ("starting", "healthy",
    # "unhealthy"), else "".
    health: str = ""
    # Config.Env: what the container was started with (secret values among them: never shown).
    env: dict[str, str] = field(default_factory=dict, repr=False)


def container_state(attrs: dict[str, Any], container_port: int | None = None) -> ContainerState:
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    status = str(state.get("Status", "unknown"))
    return ContainerState(
        id=str(attrs["Id"]),
        name=str(attrs.get("Name", "")).lstrip("/"),
        running=bool(state.get("Running")),
        status=status,
        exit_code=int(state.get("ExitCode", 0)) if status in {"exited", "dead"} else None,
        restart_count=int(attrs.get("RestartCount") or 0),
        host_port=host_port_of(attrs, container_port),
        image=str(config.get("Image", "")),
        labels={str(k): str(v) for k, v in (config.get("Labels") or {}).items()},
        health=str((state.get("Health") or {}).get("Status", "")),
        env=dict(str(item).partition("=")[::2] for item in config.get("Env") or []),
    )


def host_port_of(attrs: dict[str, Any], container_port: int | None) -> int | None:
    ports: dict[str, Any] = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    keys = [f"{container_port}/tcp"] if container_port else sorted(ports)
    for binding in (binding for key in keys for binding in ports.get(key) or []):
        if str(binding.get("HostPort")).isdigit():
            return int(binding["HostPort"])
    return None
