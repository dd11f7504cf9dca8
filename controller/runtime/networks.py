"""Each app's own Docker network: a bridge only its containers join, so an app cannot reach
another's unpublished ports. Created when the app's first container starts, removed with the
app. Blocking SDK calls: the Engine runs them in a thread."""

from __future__ import annotations

import docker
import docker.errors
from docker.models.networks import Network

CONFLICT = 409


def ensure(client: docker.DockerClient, name: str, labels: dict[str, str]) -> None:
    """The bridge network `name` exists (created with `labels` when it did not)."""
    if _named(client, name):
        return
    try:
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


def _named(client: docker.DockerClient, name: str) -> list[Network]:
    # The daemon's name filter matches substrings: keep the exact name only.
    return [network for network in client.networks.list(names=[name]) if network.name == name]
