"""The Swarm side of the Docker engine: registry pushes and services, each blocking SDK call in
a worker thread, errors out as EngineError with the daemon's one-line reason."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
import docker.errors
import requests

from controller.errors import EngineError

T = TypeVar("T")
_REASON_MAX_CHARS = 300
# Swarm's UpdateStatus.State values that end an update.
UPDATED = "completed"
ROLLING_BACK = "rollback_started"
ROLLED_BACK = ("rollback_completed", "rollback_paused")
PAUSED = "paused"


@dataclass(frozen=True)
class ServiceState:
    id: str
    image: str
    replicas: int
    task_ports: tuple[int, ...]  # host ports of the tasks running healthy, any image
    update_state: str  # "" before the first update
    update_message: str
    running: int  # tasks running the current image
    failed: int  # tasks of the current image that ended in failure


class SwarmClient:
    """Async facade over one docker SDK client, for Swarm managers."""

    def __init__(self, timeout_seconds: int = 60) -> None:
        self._timeout_seconds = timeout_seconds
        self._client: docker.DockerClient | None = None
        self._lock = asyncio.Lock()

    async def is_manager(self) -> bool:
        info = await self._call("cannot read the engine's info", lambda c: c.info())
        return bool((info.get("Swarm") or {}).get("ControlAvailable"))

    async def push(self, local_tag: str, target: str) -> str:
        """Tag `local_tag` as `target` (registry/repository:tag), push it there and return
        `target@digest`: every node then runs exactly the bytes that were pushed."""
        repository, _, tag = target.rpartition(":")

        def tag_and_push(client: docker.DockerClient) -> str:
            client.images.get(local_tag).tag(repository, tag)
            digest = ""
            for line in client.api.push(repository, tag=tag, stream=True, decode=True):
                if not isinstance(line, dict):
                    continue
                if line.get("error"):
                    raise EngineError(f"cannot push {target}: {line['error']}")
                digest = str((line.get("aux") or {}).get("Digest") or digest)
            if not digest:
                raise EngineError(f"cannot push {target}: the registry returned no digest")
            return f"{target}@{digest}"

        return await self._call(f"cannot push {target}", tag_and_push)

    async def untag(self, ref: str) -> None:
        """Drop a local tag (the image stays while another tag names it)."""
        await self._call(
            f"cannot remove tag {ref}",
            lambda c: c.api.remove_image(ref, noprune=True),
            missing=True,
        )

    async def service(self, name: str) -> ServiceState | None:
        def read(client: docker.DockerClient) -> ServiceState:
            found = _services(client).get(name)
            return service_state(found.attrs, found.tasks())

        return await self._call(f"cannot inspect service {name}", read, missing=None)

    async def inspect(self, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The service as the engine reports it (its Spec among the rest) and its tasks."""

        def read(client: docker.DockerClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            found = _services(client).get(name)
            return found.attrs, found.tasks()

        return await self._call(f"cannot inspect service {name}", read, missing=None)

    async def registry_digest(self, ref: str) -> str | None:
        """The digest the registry holds for `ref` (registry/repository:tag); None when it has
        none (the engine asks the registry, as a node pulling it would)."""

        def distribution(client: docker.DockerClient) -> str:
            return str(_api(client).inspect_distribution(ref)["Descriptor"]["digest"])

        return await self._call(f"cannot ask the registry for {ref}", distribution, missing=None)

    async def deploy(self, spec: dict[str, Any]) -> None:
        """Create the service, or update it to `spec`."""
        name = spec["name"]

        def create_or_update(client: docker.DockerClient) -> None:
            try:
                current = _services(client).get(name)
            except docker.errors.NotFound:
                _services(client).create(**spec)
                return
            current.update(**spec)

        await self._call(f"cannot deploy service {name}", create_or_update)

    async def roll_back(self, name: str) -> None:
        """Put the service back on its previous spec (what Swarm's own rollback does)."""

        def previous(client: docker.DockerClient) -> None:
            service = _services(client).get(name)
            spec = service.attrs.get("PreviousSpec")
            if not spec:
                return
            _api(client).update_service(
                service.id,
                service.version,
                task_template=spec["TaskTemplate"],
                name=spec["Name"],
                labels=spec.get("Labels"),
                mode=spec.get("Mode"),
                update_config=spec.get("UpdateConfig"),
                rollback_config=spec.get("RollbackConfig"),
                endpoint_spec=spec.get("EndpointSpec"),
            )

        await self._call(f"cannot roll back service {name}", previous)

    async def remove(self, name: str) -> None:
        await self._call(
            f"cannot remove service {name}",
            lambda c: _api(c).remove_service(name),
            missing=True,
        )

    async def close(self) -> None:
        if self._client is not None:
            await asyncio.to_thread(self._client.close)

    async def _call(
        self, action: str, work: Callable[[docker.DockerClient], T], missing: Any = ...
    ) -> T:
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.to_thread(
                        docker.from_env, timeout=self._timeout_seconds
                    )
                except (docker.errors.DockerException, requests.RequestException) as err:
                    raise EngineError(f"Docker engine is not reachable: {_reason(err)}") from err
        client = self._client
        try:
            return await asyncio.to_thread(work, client)
        except docker.errors.NotFound as err:
            if missing is ...:
                raise EngineError(f"{action}: {_reason(err)}") from err
            return missing  # type: ignore[no-any-return]
        except (docker.errors.DockerException, requests.RequestException) as err:
            raise EngineError(f"{action}: {_reason(err)}") from err


def _services(client: docker.DockerClient) -> Any:
    """The SDK's service calls (its stubs leave them untyped)."""
    return client.services


def _api(client: docker.DockerClient) -> Any:
    return client.api


def task_ports(tasks: list[dict[str, Any]]) -> tuple[int, ...]:
    """The host ports of the tasks Swarm calls running (with a health check: passed it) and
    means to keep running."""
    ports: list[int] = []
    for task in tasks:
        status = task.get("Status") or {}
        if task.get("DesiredState") != "running" or status.get("State") != "running":
            continue
        # One entry per address family (0.0.0.0 first, then [::] on another port): the first
        # is the one 127.0.0.1 reaches.
        published = [
            int(port["PublishedPort"])
            for port in (status.get("PortStatus") or {}).get("Ports") or []
            if port.get("PublishedPort")
        ]
        ports.extend(published[:1])
    return tuple(sorted(ports))


def service_state(attrs: dict[str, Any], tasks: list[dict[str, Any]]) -> ServiceState:
    spec = attrs.get("Spec") or {}
    image = str(spec["TaskTemplate"]["ContainerSpec"]["Image"])
    status = attrs.get("UpdateStatus") or {}
    current = [t for t in tasks if t.get("Spec", {}).get("ContainerSpec", {}).get("Image") == image]
    states = [str((t.get("Status") or {}).get("State", "")) for t in current]
    return ServiceState(
        id=str(attrs["ID"]),
        image=image,
        replicas=int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0)),
        task_ports=task_ports(tasks),
        update_state=str(status.get("State", "")),
        update_message=str(status.get("Message", "")),
        running=states.count("running"),
        failed=sum(state in ("failed", "rejected") for state in states),
    )


def _reason(err: Exception) -> str:
    explanation = getattr(err, "explanation", None)
    if isinstance(explanation, bytes):
        explanation = explanation.decode(errors="replace")
    text = str(explanation or err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    return first[:_REASON_MAX_CHARS]
