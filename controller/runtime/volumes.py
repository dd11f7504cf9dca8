"""Named Docker volumes owned by an app (labelled with its name): created before a container
needs them, listed, and removed only when the app is deleted with `deleteVolumes`."""

from __future__ import annotations

import contextlib

import docker

from controller.runtime.engine import Engine
from controller.runtime.naming import APP_LABEL, app_labels, volume_name
from controller.store.models import App, AppType

# A database app that declares no volume keeps its data in this one (the first releases' rule).
LEGACY_DATA_MOUNT = "/data"


def declared(app: App) -> list[dict[str, str]]:
    """The app's volumes as {"name", "mount_path"}: what it declared, or a database app's
    legacy data volume at /data."""
    return declared_of(app.app_type, app.volumes)


def declared_of(app_type: AppType, volumes: list[dict[str, str]]) -> list[dict[str, str]]:
    """`declared` from an app's type and stored volumes (plain row values)."""
    if volumes:
        return [dict(volume) for volume in volumes]
    if app_type is AppType.DATABASE:
        return [{"name": "data", "mount_path": LEGACY_DATA_MOUNT}]
    return []


def mounts(app: App) -> dict[str, str]:
    """Docker volume name -> mount path in the container."""
    return {volume_name(app.name, v["name"]): v["mount_path"] for v in declared(app)}


async def ensure(engine: Engine, app: App) -> dict[str, str]:
    """Create the app's volumes that do not exist yet (labelled as the app's); its mounts."""
    wanted = mounts(app)

    def create(client: docker.DockerClient) -> None:
        for name in wanted:
            try:
                client.volumes.get(name)
            except docker.errors.NotFound:
                client.volumes.create(name, labels=app_labels(app.name))

    if wanted:
        await engine.call(f"cannot create the volumes of {app.name}", create)
    return wanted


async def existing(engine: Engine, app_name: str) -> list[str]:
    """Names of the app's volumes Docker holds: labelled as its own, and the data volume of a
    database app from before volumes were labelled."""

    def find(client: docker.DockerClient) -> list[str]:
        labelled = client.volumes.list(filters={"label": f"{APP_LABEL}={app_name}"})
        names = {str(volume.name) for volume in labelled}
        legacy = volume_name(app_name, "data")
        try:
            client.volumes.get(legacy)
        except docker.errors.NotFound:
            pass
        else:
            names.add(legacy)
        return sorted(names)

    return await engine.call(f"cannot list the volumes of {app_name}", find)


async def remove(engine: Engine, app_name: str) -> list[str]:
    """Remove every volume of the app (its containers must be gone); the names removed."""
    names = await existing(engine, app_name)

    def drop(client: docker.DockerClient) -> None:
        for name in names:
            with contextlib.suppress(docker.errors.NotFound):
                client.volumes.get(name).remove(force=True)

    await engine.call(f"cannot remove the volumes of {app_name}", drop)
    return names
