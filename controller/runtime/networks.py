"""Docker networks of apps. Each app's own network: a bridge only its containers join, so an app
cannot reach another's unpublished ports; created when the app's first container starts, removed
with the app. A database app's network: its containers join it under the app's name, so the
apps linked to it reach it by that name (and nothing else of the host's containers can). The
client-level calls block: the Engine runs them in a thread."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import docker
import docker.errors
from docker.models.networks import Network

from controller.runtime.naming import app_labels, database_network

if TYPE_CHECKING:  # the engine imports this module for its own network calls
    from controller.runtime.engine import Engine

CONFLICT = 409


def ensure(client: docker.DockerClient, name: str, labels: dict[str, str]) -> None:
    """The bridge network `name` exists (created with `labels` when it did not)."""
    if _named(client, name):
        return
    try:
        # check_duplicate: this daemon would otherwise make a second network of one name
        client.networks.create(name, driver="bridge", labels=labels, check_duplicate=True)
    except docker.errors.APIError as err:
        if err.status_code != CONFLICT or not _named(client, name):
            raise  # not "made meanwhile by a concurrent call"


def remove(client: docker.DockerClient, name: str) -> None:
    """Remove the network `name` (nothing when there is none)."""
    for network in _named(client, name):
        try:
            network.remove()
        except docker.errors.NotFound:
            continue


async def ensure_database(engine: Engine, database_app: str) -> str:
    """The database app's network, created (labelled as the app's) if missing; its name."""
    name = database_network(database_app)
    labels = app_labels(database_app)
    await engine.call(f"cannot create network {name}", lambda c: ensure(c, name, labels))
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
