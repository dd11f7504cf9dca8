"""Creating and starting a container the one way fogbank runs apps: published on loopback only,
unable to gain privileges or open raw sockets, with a bounded number of processes, and on the
network it is given (the app's own, by default) and the ones it joins (a database's)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from controller.runtime.state import ContainerState, container_state

LOOPBACK = "127.0.0.1"
# No setuid binary or file capability can raise what the app's processes may do.
NO_NEW_PRIVILEGES = "no-new-privileges:true"
# Raw sockets let a process forge packets (ICMP, ARP spoofing) on its network; no app needs them.
DROPPED_CAPABILITIES = ("NET_RAW",)
# dockerd sets up the port mapping before start returns; the bound only covers a slow daemon.
_PORT_WAIT_SECONDS = 5.0
_PORT_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    env: dict[str, str]
    labels: dict[str, str]
    container_port: int
    host_port: int | None  # None: an ephemeral port
    restart_policy: Any  # Docker's form: {"Name": ..., "MaximumRetryCount": ...}
    memory_bytes: int | None = None
    nano_cpus: int | None = None
    volumes: dict[str, str] | None = None  # volume name -> path in the container
    network: str | None = None  # None: Docker's default bridge
    pids_limit: int | None = None  # None: unlimited
    joined: dict[str, list[str]] | None = None  # more networks: name -> aliases on it
    healthcheck: dict[str, Any] | None = None  # Docker's form; None: the image's own
    command: list[str] | None = None  # None: the image's own
    log_config: Any = None  # Docker's LogConfig (the log cap); None: the daemon's default


def create_and_start(client: docker.DockerClient, spec: ContainerSpec) -> ContainerState:
    """Create and start the container (removed again if it cannot start); its state once the
    published port is known."""
    # An empty host port asks Docker for an ephemeral one, read back from the started
    # container; never bind beyond loopback.
    ports: dict[str, Any] = {f"{spec.container_port}/tcp": (LOOPBACK, spec.host_port or "")}
    binds = {name: {"bind": path, "mode": "rw"} for name, path in (spec.volumes or {}).items()}
    container = client.containers.create(
        spec.image,
        spec.command or None,
        name=spec.name,
        environment=spec.env,
        labels=spec.labels,
        ports=ports,
        restart_policy=spec.restart_policy,
        mem_limit=spec.memory_bytes,
        nano_cpus=spec.nano_cpus,
        volumes=binds,
        network=spec.network,
        security_opt=[NO_NEW_PRIVILEGES],
        cap_drop=list(DROPPED_CAPABILITIES),
        pids_limit=spec.pids_limit,
        healthcheck=spec.healthcheck,
        log_config=spec.log_config,
        # A tiny init as PID 1 forwards SIGTERM and reaps zombies, so an app that never
        # installed a signal handler still stops at once instead of after the grace.
        init=True,
        detach=True,
    )
    try:
        for network, aliases in (spec.joined or {}).items():
            client.api.connect_container_to_network(str(container.id), network, aliases=aliases)
        container.start()
    except BaseException:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)
        raise
    deadline = time.monotonic() + _PORT_WAIT_SECONDS
    while True:
        container.reload()
        state = container_state(container.attrs, spec.container_port)
        if state.host_port or not state.running or time.monotonic() > deadline:
            return state
        time.sleep(_PORT_POLL_SECONDS)
