"""The Docker objects a test or bench made, found by their labels only (other suites share the
daemon): listing them, and removing an app's containers, images and volumes or everything of
one test run."""

from __future__ import annotations

import contextlib

import docker
import docker.errors
from docker.models.containers import Container

CONFLICT = 409


def _remove_container(container: Container) -> None:
    """Force-remove; one that is gone, or that dockerd is removing already (a build step of a
    cancelled build), is left to it."""
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as err:
        if err.status_code != CONFLICT or "already in progress" not in str(err.explanation):
            raise


def remove_app_objects(client: docker.DockerClient, names: list[str]) -> None:
    """Containers, images, networks and volumes of these fogbank apps (labels
    `fogbank.app=<name>`, volumes named `fogbank-<name>-...`); what is already gone is
    skipped."""
    for name in names:
        label: dict[str, str | list[str] | bool] = {"label": f"fogbank.app={name}"}
        for container in client.containers.list(all=True, filters=label, ignore_removed=True):
            _remove_container(container)
        for image in client.images.list(filters=label):
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(str(image.id), force=True)
        for volume in client.volumes.list(filters={"name": f"fogbank-{name}-"}):
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)
        for network in client.networks.list(filters=label):
            with contextlib.suppress(docker.errors.NotFound):
                network.remove()


def remove_run_objects(run_id: str, *, unless_label: str = "") -> None:
    """Remove containers and images (intermediate ones too) labelled `fogbank.test.run=<run_id>`,
    except those that also carry the label key `unless_label` (another fixture's to remove)."""
    client = docker.from_env()
    label: dict[str, str | list[str] | bool] = {"label": f"fogbank.test.run={run_id}"}

    def ours(labels: dict[str, str] | None) -> bool:
        return not unless_label or unless_label not in (labels or {})

    try:
        for container in client.containers.list(all=True, filters=label, ignore_removed=True):
            if ours(container.labels):
                _remove_container(container)
        # children are newer than their parents: remove newest first, repeat for stragglers
        for _ in range(5):
            images = [i for i in client.images.list(all=True, filters=label) if ours(i.labels)]
            if not images:
                break
            for image in sorted(images, key=lambda i: str(i.attrs["Created"]), reverse=True):
                try:
                    client.images.remove(str(image.id), force=True)
                except docker.errors.APIError:
                    continue
    finally:
        client.close()


def deployment_containers(
    client: docker.DockerClient, app_name: str, deployment_id: int
) -> list[Container]:
    """Containers of one deployment of one app. The app's unique name is part of the filter: a
    deployment id alone repeats across the databases of suites sharing the daemon."""
    labels = [f"fogbank.app={app_name}", f"fogbank.deployment={deployment_id}"]
    found: list[Container] = client.containers.list(all=True, filters={"label": labels})
    return found


def run_images(run_id: str) -> list[str]:
    """Ids of the images still labelled `fogbank.test.run=<run_id>`."""
    client = docker.from_env()
    try:
        found = client.images.list(all=True, filters={"label": f"fogbank.test.run={run_id}"})
        return [str(image.id) for image in found]
    finally:
        client.close()


def run_containers(run_id: str, command_part: str = "") -> list[str]:
    """Ids of the containers labelled `fogbank.test.run=<run_id>` (build steps included, when the
    Dockerfile sets the label before them) whose command contains `command_part`."""
    client = docker.from_env()
    try:
        found = client.containers.list(
            all=True, filters={"label": f"fogbank.test.run={run_id}"}, ignore_removed=True
        )
        return [
            str(c.id)
            for c in found
            if command_part in " ".join(c.attrs.get("Config", {}).get("Cmd") or [])
        ]
    finally:
        client.close()
