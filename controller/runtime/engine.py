"""Docker engine adapter: containers published on loopback, images, streamed SDK calls.

The docker SDK blocks, so every call runs in a worker thread; SDK and transport errors come out
as EngineError (or the caller's error for a stream) with the daemon's own one-line explanation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any, TypeVar

import docker
import docker.errors
import requests
from docker.types import LogConfig

from controller.errors import EngineError, FogbankError
from controller.runtime import create, networks
from controller.runtime import restart_policy as restart_policies
from controller.runtime.create import ContainerSpec, create_and_start
from controller.runtime.state import ContainerState, container_state
from controller.runtime.streams import ResponseCapture, pump

T = TypeVar("T")


LOOPBACK = create.LOOPBACK
_REASON_MAX_CHARS = 300
_REQUIRED: Any = object()  # marks "no value for NotFound" in Engine.call


class Engine:
    """Async facade over one docker SDK client."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        timeout_seconds: int = 60,
        log_max_size: str = "10m",
        log_max_files: int = 3,
    ) -> None:
        self._client = client
        self._timeout_seconds = timeout_seconds
        # Every container's output is capped (Docker's json-file rotation): a chatty app
        # cannot fill the disk.
        self._log_config = LogConfig(
            type="json-file", config={"max-size": log_max_size, "max-file": str(log_max_files)}
        )
        self._connect_lock = asyncio.Lock()
        # Streaming threads register here to receive their HTTP response (runtime/streams.py).
        self._capture = ResponseCapture()
        if client is not None:
            client.api.hooks["response"].append(self._capture.hook)

    async def ping(self) -> None:
        """Raise EngineError when the Docker engine does not answer."""
        client = await self._docker()
        try:
            await asyncio.to_thread(client.ping)
        except (docker.errors.DockerException, requests.RequestException) as err:
            raise EngineError(f"Docker engine is not reachable: {_reason(err)}") from err

    def stream(
        self,
        open_stream: Callable[[docker.DockerClient], Iterable[Any]],
        *,
        action: str,
        error: type[FogbankError] = EngineError,
    ) -> AsyncGenerator[Any, None]:
        """The items of a streaming SDK call (build output, a pull's progress, followed logs);
        cancelling the consumer aborts it in the daemon (controller/runtime/streams.py). The
        daemon's refusal comes out as `error` ("<action>: <reason>"). Consume it inside
        `contextlib.aclosing`."""

        async def items() -> AsyncGenerator[Any, None]:
            client = await self._docker()
            try:
                async for item in pump(lambda: open_stream(client), self._capture):
                    yield item
            except docker.errors.APIError as err:
                raise error(f"{action}: {_reason(err)}") from err
            except (docker.errors.DockerException, requests.RequestException) as err:
                raise EngineError(f"Docker engine is not reachable: {_reason(err)}") from err
            except OSError as err:
                raise error(f"{action}: {err}") from err

        return items()

    async def image_id(self, ref: str) -> str:
        """The id of a local image."""
        return await self.call(
            f"cannot inspect image {ref}", lambda client: str(client.images.get(ref).id)
        )

    async def run(
        self,
        *,
        name: str,
        image: str,
        env: dict[str, str],
        labels: dict[str, str],
        container_port: int,
        host_port: int | None,
        restart_policy: str = "unless-stopped",
        memory_bytes: int | None = None,
        nano_cpus: int | None = None,
        volumes: dict[str, str] | None = None,
        network: str | None = None,
        pids_limit: int | None = None,
        joined: dict[str, list[str]] | None = None,
        healthcheck: dict[str, Any] | None = None,
        command: list[str] | None = None,
    ) -> ContainerState:
        """Create and start a container publishing `container_port` on 127.0.0.1:`host_port`,
        hardened (runtime/create.py), on `network` and joined to `joined` (name -> aliases)."""
        spec = ContainerSpec(
            name=name,
            image=image,
            env=env,
            labels=labels,
            container_port=container_port,
            host_port=host_port,
            restart_policy=_restart_policy(restart_policy),
            memory_bytes=memory_bytes,
            nano_cpus=nano_cpus,
            volumes=volumes,
            network=network,
            pids_limit=pids_limit,
            joined=joined,
            healthcheck=healthcheck,
            command=command,
            log_config=self._log_config,
        )
        return await self.call(
            f"cannot start container {name}", lambda client: create_and_start(client, spec)
        )

    async def remove_network(self, name: str) -> None:
        """Remove the network `name`; a missing one is already removed."""
        await self.call(
            f"cannot remove network {name}",
            lambda client: networks.remove(client, name),
            missing=None,
        )

    async def inspect(self, container_id_or_name: str) -> ContainerState | None:
        """The container's state, or None when it does not exist."""
        return await self.call(
            f"cannot inspect container {container_id_or_name}",
            lambda client: container_state(client.containers.get(container_id_or_name).attrs),
            missing=None,
        )

    async def logs(self, container_id: str, tail: int = 100) -> list[str]:
        """The last `tail` lines of stdout and stderr."""
        raw = await self.call(
            f"cannot read the logs of {container_id}",
            lambda client: client.api.logs(container_id, stdout=True, stderr=True, tail=tail),
        )
        return raw.decode(errors="replace").splitlines()

    async def start(self, container_id: str) -> None:
        """Start a stopped container."""
        await self.call(
            f"cannot start container {container_id}", lambda client: client.api.start(container_id)
        )

    async def stop(self, container_id: str, timeout_seconds: int = 10) -> None:
        """SIGTERM, then SIGKILL after the grace period; a missing container counts as stopped."""
        await self.call(
            f"cannot stop container {container_id}",
            lambda client: client.api.stop(container_id, timeout=timeout_seconds),
            missing=None,
        )

    async def remove_container(self, container_id: str) -> None:
        """Remove a container, running or not; a missing one is already removed."""
        await self.call(
            f"cannot remove container {container_id}",
            lambda client: client.api.remove_container(container_id, force=True),
            missing=None,
        )

    async def containers(self, labels: dict[str, str]) -> list[ContainerState]:
        """All containers, stopped ones included, that carry every one of `labels`."""

        def find(client: docker.DockerClient) -> list[ContainerState]:
            found = client.containers.list(
                all=True, filters=_label_filter(labels), ignore_removed=True
            )
            return [container_state(container.attrs) for container in found]

        return await self.call("cannot list containers", find)

    async def image_exists(self, tag: str) -> bool:
        """Whether an image with this tag or id is present locally."""
        return await self.call(
            f"cannot inspect image {tag}",
            lambda client: bool(client.images.get(tag)),
            missing=False,
        )

    async def images(self, labels: dict[str, str]) -> list[tuple[str, list[str], dict[str, str]]]:
        """(id, tags, labels) of every image that carries all of `labels`."""

        def find(client: docker.DockerClient) -> list[tuple[str, list[str], dict[str, str]]]:
            found = client.images.list(filters=_label_filter(labels))
            return [(str(image.id), list(image.tags), dict(image.labels or {})) for image in found]

        return await self.call("cannot list images", find)

    async def prune_dangling(self, labels: dict[str, str]) -> None:
        """Remove untagged leftovers carrying these labels (steps of a build cut short)."""
        label_filter = [f"{key}={value}" for key, value in labels.items()]
        await self.call(
            "cannot prune dangling images",
            lambda client: client.images.prune(filters={"dangling": True, "label": label_filter}),
        )

    async def tag_image(self, source: str, target: str) -> None:
        """Give image `source` the extra tag `target` (repository:tag)."""
        repository, _, tag = target.rpartition(":")
        await self.call(
            f"cannot tag image {source} as {target}",
            lambda client: client.images.get(source).tag(repository, tag),
        )

    async def remove_image(self, ref: str) -> None:
        """Remove an image by tag or id; a missing one is already removed."""
        await self.call(
            f"cannot remove image {ref}",
            lambda client: client.images.remove(ref, force=True),
            missing=None,
        )

    async def close(self) -> None:
        """Close the SDK client and its connections."""
        if self._client is not None:
            await asyncio.to_thread(self._client.close)

    async def _docker(self) -> docker.DockerClient:
        # from_env asks the daemon for its API version, so it is made lazily, in a thread
        async with self._connect_lock:
            if self._client is None:
                try:
                    self._client = await asyncio.to_thread(
                        docker.from_env, timeout=self._timeout_seconds
                    )
                except (docker.errors.DockerException, requests.RequestException) as err:
                    raise EngineError(f"Docker engine is not reachable: {_reason(err)}") from err
                self._client.api.hooks["response"].append(self._capture.hook)
            return self._client

    async def call(
        self, action: str, work: Callable[[docker.DockerClient], T], missing: T = _REQUIRED
    ) -> T:
        """Run `work(client)` in a thread, errors as EngineError ("<action>: <reason>"); NotFound
        gives `missing` when one is given. The feature modules of runtime/ use it too."""
        client = await self._docker()
        try:
            return await asyncio.to_thread(work, client)
        except docker.errors.NotFound as err:
            if missing is _REQUIRED:
                raise EngineError(f"{action}: {_reason(err)}") from err
            return missing
        except docker.errors.APIError as err:
            raise EngineError(f"{action}: {_reason(err)}") from err
        except (docker.errors.DockerException, requests.RequestException) as err:
            raise EngineError(f"{action}: Docker engine is not reachable: {_reason(err)}") from err


def _restart_policy(policy: str) -> Any:  # Any: the SDK stubs only know always/on-failure
    """Docker's form of a policy of controller/runtime/restart_policy.py."""
    try:
        name, retries = restart_policies.parse(policy)
    except ValueError as exc:
        raise EngineError(str(exc)) from exc
    return {"Name": name, "MaximumRetryCount": retries}


def _label_filter(labels: dict[str, str]) -> dict[str, Any]:
    return {"label": [f"{key}={value}" for key, value in labels.items()]}


def _reason(err: Exception) -> str:
    """The daemon's explanation, or the first line of the error, kept short."""
    explanation = getattr(err, "explanation", None)
    if isinstance(explanation, bytes):
        explanation = explanation.decode(errors="replace")
    text = str(explanation or err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    return first[:_REASON_MAX_CHARS]
