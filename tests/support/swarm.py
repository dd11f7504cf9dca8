"""A single-node Swarm and a throwaway registry (Debian's `docker-registry`) for the Swarm
backend's tests. The daemon is shared with other suites: the node is made a manager only when
it is not one already, and left again only by the fixture that made it one; services are
found by the labels fogbank gives them."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx

from controller.config import (
    ControllerSettings,
    EdgeSettings,
    GitSettings,
    RuntimeSettings,
    Settings,
    StorageSettings,
)
from tests.support.ports import free_port

REGISTRY_BINARY = "/usr/bin/docker-registry"
REGISTRY_CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
http:
  addr: 127.0.0.1:{port}
"""
START_SECONDS = 20.0
REPLICAS = 2
# The test images are FROM scratch with a static busybox: its wget is the health probe.
HEALTH_COMMAND = "/bin/busybox wget -q -O /dev/null http://127.0.0.1:{port}{path}"


def swarm_settings(tmp_path: Path, registry: str, replicas: int = REPLICAS) -> Settings:
    """A Swarm-backed fogbank's settings. No scheduled drift round: when drift repair runs (and
    the edge follows the tasks) is each test's to say."""
    return Settings(
        storage=StorageSettings(data_dir=tmp_path / "data"),
        git=GitSettings(allow_local=True, timeout_seconds=60),
        edge=EdgeSettings(admin_url=f"http://127.0.0.1:{free_port()}", http_port=free_port()),
        controller=ControllerSettings(reconcile_interval_seconds=3600),
        runtime=RuntimeSettings(
            backend="swarm", registry=registry, replicas=replicas, health_command=HEALTH_COMMAND
        ),
    )


def service_attrs(client: docker.DockerClient, name: str) -> dict[str, Any]:
    """The app's service as Docker describes it (found by fogbank's label)."""
    (service,) = client.services.list(filters={"label": f"fogbank.app={name}"})
    attrs: dict[str, Any] = service.attrs
    return attrs


def running_tasks(client: docker.DockerClient, name: str) -> list[dict[str, Any]]:
    """The app's tasks that run now."""
    service: Any  # the SDK stubs leave Service.tasks untyped
    (service,) = client.services.list(filters={"label": f"fogbank.app={name}"})
    tasks: list[dict[str, Any]] = service.tasks(filters={"desired-state": "running"})
    return [t for t in tasks if t["Status"]["State"] == "running"]


@contextmanager
def swarm_manager(client: docker.DockerClient) -> Iterator[bool]:
    """The engine as a Swarm manager for the duration; yields whether this call made it one."""
    swarm = client.info().get("Swarm") or {}
    if swarm.get("ControlAvailable"):
        yield False
        return
    if swarm.get("LocalNodeState") not in ("inactive", None):
        raise RuntimeError(f"node is in a swarm but not a manager: {swarm}")
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    try:
        yield True
    finally:
        client.swarm.leave(force=True)


@contextmanager
def local_registry(root: Path) -> Iterator[str]:
    """`docker-registry` on a free loopback port, storing under `root`; yields host:port.
    The engine trusts 127.0.0.0/8 as an insecure registry by default, so no TLS is needed."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    config.write_text(REGISTRY_CONFIG.format(root=root / "data", port=port))
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"docker-registry did not start: {(root / 'registry.log').read_text()}"
                )
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def remove_services(client: docker.DockerClient, app_names: list[str]) -> None:
    """Remove the Swarm services of these apps (found by fogbank's label), then wait for their
    task containers to go, so the app's other objects can be removed after."""
    for name in app_names:
        services: Any = client.services  # the SDK stubs leave service calls untyped
        for service in services.list(filters={"label": f"fogbank.app={name}"}):
            with suppress(docker.errors.NotFound):
                service.remove()
        deadline = time.monotonic() + 30
        labelled: dict[str, str | list[str] | bool] = {"label": f"fogbank.app={name}"}
        while client.containers.list(all=True, filters=labelled, ignore_removed=True):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
