"""Docker networks of apps. Each app's own network: a bridge only its containers join, so an app
cannot reach another's unpublished ports; created when the app's first container starts, removed
with the app. Past the daemon's own address pools, subnets come from runtime.network_pool. A database app's network: its containers join it under the app's name, so the
apps linked to it reach it by that name (and nothing else of the host's containers can). The
client-level calls block: the Engine runs them in a thread."""

from __future__ import annotations

import contextlib
import ipaddress
from typing import TYPE_CHECKING

import docker
import docker.errors
from docker.models.networks import Network
from docker.types import IPAMConfig, IPAMPool

from controller.errors import EngineError
from controller.runtime.naming import app_labels, app_network, database_network

if TYPE_CHECKING:  # the engine imports this module for its own network calls
    from controller.runtime.engine import Engine

CONFLICT = 409
# What the daemon answers when its default-address-pools have no subnet left (about 30 bridge
# networks with Docker's defaults): then fogbank hands out /24s of runtime.network_pool.
POOLS_USED_UP = "could not find an available, non-overlapping IPv4 address pool"
SUBNET_PREFIX = 24


def ensure(client: docker.DockerClient, name: str, labels: dict[str, str], pool: str = "") -> None:
    """The bridge network `name` exists (created with `labels` when it did not). When the
    daemon's own address pools are used up, its subnet comes from `pool` (runtime.network_pool)."""
    if _named(client, name):
        return
    try:
        try:
            # check_duplicate: this daemon would otherwise make a second network of one name
            client.networks.create(name, driver="bridge", labels=labels, check_duplicate=True)
        except docker.errors.APIError as err:
            if not pool or POOLS_USED_UP not in str(err.explanation or ""):
                raise
            create_in_pool(client, name, labels, pool)
    except docker.errors.APIError as err:
        if err.status_code != CONFLICT or not _named(client, name):
            raise  # not "made meanwhile by a concurrent call"


def create_in_pool(
    client: docker.DockerClient, name: str, labels: dict[str, str], pool: str
) -> str:
    """Create the bridge network `name` on the first /24 of `pool` that no network of this
    daemon overlaps; its subnet. A subnet taken meanwhile (another instance) is skipped."""
    taken = {
        ipaddress.ip_network(config["Subnet"], strict=False)
        for network in client.networks.list()
        for config in ((network.attrs.get("IPAM") or {}).get("Config") or [])
        if ":" not in config.get("Subnet", ":")  # IPv4 ones
    }
    for subnet in ipaddress.ip_network(pool).subnets(new_prefix=SUBNET_PREFIX):
        if any(subnet.overlaps(other) for other in taken):
            continue
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet))])
        try:
            client.networks.create(
                name, driver="bridge", labels=labels, ipam=ipam, check_duplicate=True
            )
        except docker.errors.APIError as err:
            if "overlaps" not in str(err.explanation or ""):
                raise
            continue
        return str(subnet)
    raise EngineError(
        f"cannot create network {name}: Docker's address pools are used up and no "
        f"/{SUBNET_PREFIX} is left in runtime.network_pool {pool}"
    )


def remove(client: docker.DockerClient, name: str) -> None:
    """Remove the network `name` (nothing when there is none)."""
    for network in _named(client, name):
        try:
            network.remove()
        except docker.errors.NotFound:
            continue


async def ensure_app(engine: Engine, app: str, pool: str) -> str:
    """The app's own network, created (labelled as the app's) if missing; its name."""
    name, labels = app_network(app), app_labels(app)
    await engine.call(f"cannot create network {name}", lambda c: ensure(c, name, labels, pool))
    return name


async def ensure_database(engine: Engine, database_app: str, pool: str) -> str:
    """The database app's network, created (labelled as the app's) if missing; its name."""
    name, labels = database_network(database_app), app_labels(database_app)
    await engine.call(f"cannot create network {name}", lambda c: ensure(c, name, labels, pool))
    return name


async def remove_database(engine: Engine, database_app: str) -> None:
    """Disconnect what is still attached and remove the network; a missing one is fine."""
    name = database_network(database_app)

    def drop(client: docker.DockerClient) -> None:
        for network in _named(client, name):
            network.reload()
            for container in network.containers:
                with contextlib.suppress(docker.errors.NotFound):
                    network.disconnect(container, force=True)
            network.remove()

    await engine.call(f"cannot remove network {name}", drop)


def _named(client: docker.DockerClient, name: str) -> list[Network]:
    # The daemon's name filter matches substrings: keep the exact name only.
    return [network for network in client.networks.list(names=[name]) if network.name == name]
