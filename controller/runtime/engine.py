"""Docker engine adapter: streamed builds, containers published on loopback, images.

The docker SDK blocks, so every call runs in a worker thread; SDK and transport errors come out
as EngineError (or BuildError for a build) with the daemon's own one-line explanation.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import requests

from controller.build.stream import (
    LineSink,
    build_limits,
    check_build_inputs,
    disconnect,
    handle_build_item,
)
from controller.errors import BuildError, EngineError

T = TypeVar("T")


LOOPBACK = "127.0.0.1"
# dockerd sets up the port mapping before start returns; the bound only covers a slow daemon.
_PORT_WAIT_SECONDS = 5.0
_PORT_POLL_SECONDS = 0.05
_REASON_MAX_CHARS = 300
_END = object()
_REQUIRED: Any = object()  # marks "no value for NotFound" in Engine._call


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


class Engine:
    """Async facade over one docker SDK client."""

    def __init__(
        self, client: docker.DockerClient | None = None, *, timeout_seconds: int = 60
    ) -> None:
        self._client = client
        self._timeout_seconds = timeout_seconds
        self._connect_lock = asyncio.Lock()
        # Build threads register here to receive their HTTP response (see _remember_response).
        self._capture = threading.local()
        if client is not None:
            client.api.hooks["response"].append(self._remember_response)

    async def ping(self) -> None:
        """Raise EngineError when the Docker engine does not answer."""
        client = await self._docker()
        try:
            await asyncio.to_thread(client.ping)
        except (docker.errors.DockerException, requests.RequestException) as err:
            raise EngineError(f"Docker engine is not reachable: {_reason(err)}") from err

    async def build(
        self,
        context: Path,
        *,
        dockerfile: str,
        tag: str,
        labels: dict[str, str],
        buildargs: dict[str, str],
        on_line: LineSink,
        memory_bytes: int | None = None,
        cpu_shares: int | None = None,
    ) -> str:
        """Build `context` into `tag`, streaming each output line to `on_line`; return the id.

        Cancelling the awaiting task disconnects from the daemon, which aborts the build and
        (forcerm) removes its intermediate container.
        """
        await asyncio.to_thread(check_build_inputs, context, dockerfile)
        client = await self._docker()
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[object] = asyncio.Queue()
        abort = threading.Event()
        responses: list[requests.Response] = []

        def put(item: object) -> None:
            if not abort.is_set():
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                    loop.call_soon_threadsafe(items.put_nowait, item)

        def pump() -> None:
            try:
                self._capture.responses = responses
                try:
                    stream = client.api.build(
                        path=str(context),
                        dockerfile=dockerfile,
                        tag=tag,
                        labels=labels,
                        buildargs=dict(buildargs),  # the SDK adds proxy args to the dict
                        decode=True,
                        rm=True,
                        forcerm=True,
                        pull=False,
                        container_limits=build_limits(memory_bytes, cpu_shares),
                        timeout=None,  # a silent RUN step may last long; cancellation ends it
                    )
                finally:
                    self._capture.responses = None
                try:
                    for item in stream:
                        if abort.is_set():
                            break
                        put(item)
                finally:
                    stream.close()
                    for response in responses:
                        response.close()
            except Exception as err:  # handed over to the event loop, which raises it
                put(err)
            else:
                put(_END)

        worker = asyncio.ensure_future(asyncio.to_thread(pump))
        image_id: str | None = None
        try:
            while (item := await items.get()) is not _END:
                if isinstance(item, Exception):
                    raise _build_failure(item) from item
                if isinstance(item, dict):
                    image_id = await handle_build_item(item, on_line) or image_id
        finally:
            abort.set()
            if not worker.done():
                disconnect(responses)
            await asyncio.wait({worker})
        if image_id is None:
            image_id = await self._call(
                f"cannot inspect image {tag}", lambda client: client.images.get(tag).id
            )
        return str(image_id)

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
    ) -> ContainerState:
        """Create and start a container publishing `container_port` on 127.0.0.1:`host_port`."""
        restart = _restart_policy(restart_policy)
        # An empty host port asks Docker for an ephemeral one, read back from the started
        # container; never bind beyond loopback.
        ports: dict[str, Any] = {f"{container_port}/tcp": (LOOPBACK, host_port or "")}
        binds = {volume: {"bind": path, "mode": "rw"} for volume, path in (volumes or {}).items()}

        def create_and_start(client: docker.DockerClient) -> ContainerState:
            container = client.containers.create(
                image,
                name=name,
                environment=env,
                labels=labels,
                ports=ports,
                restart_policy=restart,
                mem_limit=memory_bytes,
                nano_cpus=nano_cpus,
                volumes=binds,
                # A tiny init as PID 1 forwards SIGTERM and reaps zombies, so an app that never
                # installed a signal handler still stops at once instead of after the grace.
                init=True,
                detach=True,
            )
            try:
                container.start()
            except BaseException:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
                raise
            deadline = time.monotonic() + _PORT_WAIT_SECONDS
            while True:
                container.reload()
                state = _state(container.attrs, container_port)
                if state.host_port or not state.running or time.monotonic() > deadline:
                    return state
                time.sleep(_PORT_POLL_SECONDS)

        return await self._call(f"cannot start container {name}", create_and_start)

    async def inspect(self, container_id_or_name: str) -> ContainerState | None:
        """The container's state, or None when it does not exist."""
        return await self._call(
            f"cannot inspect container {container_id_or_name}",
            lambda client: _state(client.containers.get(container_id_or_name).attrs),
            missing=None,
        )

    async def logs(self, container_id: str, tail: int = 100) -> list[str]:
        """The last `tail` lines of stdout and stderr."""
        raw = await self._call(
            f"cannot read the logs of {container_id}",
            lambda client: client.api.logs(container_id, stdout=True, stderr=True, tail=tail),
        )
        return raw.decode(errors="replace").splitlines()

    async def start(self, container_id: str) -> None:
        """Start a stopped container."""
        await self._call(
            f"cannot start container {container_id}", lambda client: client.api.start(container_id)
        )

    async def stop(self, container_id: str, timeout_seconds: int = 10) -> None:
        """SIGTERM, then SIGKILL after the grace period; a missing container counts as stopped."""
        await self._call(
            f"cannot stop container {container_id}",
            lambda client: client.api.stop(container_id, timeout=timeout_seconds),
            missing=None,
        )

    async def remove_container(self, container_id: str) -> None:
        """Remove a container, running or not; a missing one is already removed."""
        await self._call(
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
            return [_state(container.attrs) for container in found]

        return await self._call("cannot list containers", find)

    async def image_exists(self, tag: str) -> bool:
        """Whether an image with this tag or id is present locally."""
        return await self._call(
            f"cannot inspect image {tag}",
            lambda client: bool(client.images.get(tag)),
            missing=False,
        )

    async def images(self, labels: dict[str, str]) -> list[tuple[str, list[str], dict[str, str]]]:
        """(id, tags, labels) of every image that carries all of `labels`."""

        def find(client: docker.DockerClient) -> list[tuple[str, list[str], dict[str, str]]]:
            found = client.images.list(filters=_label_filter(labels))
            return [(str(image.id), list(image.tags), dict(image.labels or {})) for image in found]

        return await self._call("cannot list images", find)

    async def prune_dangling(self, labels: dict[str, str]) -> None:
        """Remove untagged leftovers carrying these labels (steps of a build cut short)."""
        label_filter = [f"{key}={value}" for key, value in labels.items()]
        await self._call(
            "cannot prune dangling images",
            lambda client: client.images.prune(filters={"dangling": True, "label": label_filter}),
        )

    async def tag_image(self, source: str, target: str) -> None:
        """Give image `source` the extra tag `target` (repository:tag)."""
        repository, _, tag = target.rpartition(":")
        await self._call(
            f"cannot tag image {source} as {target}",
            lambda client: client.images.get(source).tag(repository, tag),
        )

    async def remove_image(self, ref: str) -> None:
        """Remove an image by tag or id; a missing one is already removed."""
        await self._call(
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
                self._client.api.hooks["response"].append(self._remember_response)
            return self._client

    async def _call(
        self, action: str, work: Callable[[docker.DockerClient], T], missing: T = _REQUIRED
    ) -> T:
        """Run `work` in a thread; NotFound gives `missing` when one is given."""
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

    def _remember_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # requests calls session hooks in the requesting thread, once the headers are in: a
        # build thread finds its own streaming response here, so cancellation can cut it.
        sink: list[requests.Response] | None = getattr(self._capture, "responses", None)
        if sink is not None:
            sink.append(response)


def _build_failure(err: Exception) -> Exception:
    if isinstance(err, docker.errors.APIError):
        return BuildError(f"docker build failed: {_reason(err)}")
    if isinstance(err, (docker.errors.DockerException, requests.RequestException)):
        return EngineError(f"Docker engine is not reachable: {_reason(err)}")
    if isinstance(err, OSError):
        return BuildError(f"cannot read the build context: {err}")
    return err


def _restart_policy(policy: str) -> Any:  # Any: the SDK stubs only know always/on-failure
    """Docker's form of "no", "always", "unless-stopped", "on-failure" or "on-failure:<n>"."""
    name, _, retries = policy.partition(":")
    valid_retries = not retries or (name == "on-failure" and retries.isdigit())
    if name not in {"no", "always", "unless-stopped", "on-failure"} or not valid_retries:
        raise EngineError(f"unknown restart policy {policy!r}")
    return {"Name": name, "MaximumRetryCount": int(retries or 0)}


def _label_filter(labels: dict[str, str]) -> dict[str, Any]:
    return {"label": [f"{key}={value}" for key, value in labels.items()]}


def _state(attrs: dict[str, Any], container_port: int | None = None) -> ContainerState:
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
        host_port=_host_port(attrs, container_port),
        image=str(config.get("Image", "")),
        labels={str(k): str(v) for k, v in (config.get("Labels") or {}).items()},
    )


def _host_port(attrs: dict[str, Any], container_port: int | None) -> int | None:
    ports: dict[str, Any] = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    keys = [f"{container_port}/tcp"] if container_port else sorted(ports)
    for binding in (binding for key in keys for binding in ports.get(key) or []):
        if str(binding.get("HostPort")).isdigit():
            return int(binding["HostPort"])
    return None


def _reason(err: Exception) -> str:
    """The daemon's explanation, or the first line of the error, kept short."""
    explanation = getattr(err, "explanation", None)
    if isinstance(explanation, bytes):
        explanation = explanation.decode(errors="replace")
    text = str(explanation or err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    return first[:_REASON_MAX_CHARS]
