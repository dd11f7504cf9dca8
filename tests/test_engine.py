"""Engine against the real Docker daemon: scratch images with a static busybox, loopback ports.

Every test labels what it makes with `fogbank.test=1` and its own `fogbank.test.run=<uuid>`
(also as a LABEL in each Dockerfile, so intermediate images and build containers carry it) and
removes all of it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest

from controller.engine import LOOPBACK, Engine
from controller.errors import BuildError, EngineError

BUSYBOX = Path("/bin/busybox")
HTTPD = '["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]'


@pytest.fixture
async def docker_engine() -> AsyncIterator[Engine]:
    """A connected Engine; fails instead of skipping when FOGBANK_TEST_REQUIRE_DOCKER=1."""
    engine = Engine()
    try:
        await engine.ping()
    except EngineError as err:
        await engine.close()
        if os.environ.get("FOGBANK_TEST_REQUIRE_DOCKER") == "1":
            pytest.fail(f"Docker is required (FOGBANK_TEST_REQUIRE_DOCKER=1): {err}")
        pytest.skip(f"Docker is not available: {err}")
    try:
        yield engine
    finally:
        await engine.close()


@dataclass(frozen=True)
class Scratch:
    """Names, labels and a build context unique to one test."""

    run_id: str
    root: Path

    @property
    def labels(self) -> dict[str, str]:
        return {"fogbank.test": "1", "fogbank.test.run": self.run_id}

    def tag(self, suffix: str = "app") -> str:
        return f"fogbank-test/{suffix}:{self.run_id}"

    def name(self, suffix: str = "app") -> str:
        return f"fogbank-test-{self.run_id}-{suffix}"

    def context(self, steps: str, files: dict[str, str] | None = None) -> Path:
        """A build context: busybox, `files` and a Dockerfile FROM scratch ending in `steps`."""
        context = self.root / uuid.uuid4().hex
        context.mkdir()
        shutil.copy2(BUSYBOX, context / "busybox")
        for name, content in (files or {}).items():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            (context / name).write_text(content)
        (context / "Dockerfile").write_text(
            f"FROM scratch\nLABEL fogbank.test.run={self.run_id}\n"
            f"COPY busybox /bin/busybox\n{steps}\n"
        )
        return context


def remove_everything_labelled(run_id: str) -> None:
    """Remove containers and images (intermediate ones too) of one test run."""
    client = docker.from_env()
    label: dict[str, str | list[str] | bool] = {"label": f"fogbank.test.run={run_id}"}
    try:
        for container in client.containers.list(all=True, filters=label, ignore_removed=True):
            container.remove(force=True)
        # children are newer than their parents: remove newest first, repeat for stragglers
        for _ in range(5):
            images = client.images.list(all=True, filters=label)
            if not images:
                break
            for image in sorted(images, key=lambda i: str(i.attrs["Created"]), reverse=True):
                try:
                    client.images.remove(str(image.id), force=True)
                except docker.errors.APIError:
                    continue
    finally:
        client.close()


@pytest.fixture
async def scratch(docker_engine: Engine, tmp_path: Path) -> AsyncIterator[Scratch]:
    run = Scratch(run_id=uuid.uuid4().hex[:12], root=tmp_path)
    try:
        yield run
    finally:
        await asyncio.to_thread(remove_everything_labelled, run.run_id)
        leftovers = docker.from_env()
        try:
            left = leftovers.images.list(
                all=True, filters={"label": f"fogbank.test.run={run.run_id}"}
            )
        finally:
            leftovers.close()
        assert left == [], f"images left behind: {left}"


class Lines:
    """An on_line sink that records each line with the time it arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str]] = []

    async def __call__(self, line: str) -> None:
        self.received.append((time.monotonic(), line))

    @property
    def text(self) -> list[str]:
        return [line for _, line in self.received]


async def build(
    engine: Engine,
    scratch: Scratch,
    context: Path,
    lines: Lines | None = None,
    buildargs: dict[str, str] | None = None,
) -> str:
    return await engine.build(
        context,
        dockerfile="Dockerfile",
        tag=scratch.tag(),
        labels=scratch.labels,
        buildargs=buildargs or {},
        on_line=lines or Lines(),
    )


async def test_build_streams_steps_while_it_runs(docker_engine: Engine, scratch: Scratch) -> None:
    context = scratch.context('RUN ["/bin/busybox", "sleep", "1"]')
    lines = Lines()

    image_id = await build(docker_engine, scratch, context, lines=lines)
    returned_at = time.monotonic()

    steps = [line for line in lines.text if line.startswith("Step ")]
    # the legacy builder appends one LABEL step per build label
    assert steps == [
        "Step 1/6 : FROM scratch",
        f"Step 2/6 : LABEL fogbank.test.run={scratch.run_id}",
        "Step 3/6 : COPY busybox /bin/busybox",
        'Step 4/6 : RUN ["/bin/busybox", "sleep", "1"]',
        "Step 5/6 : LABEL fogbank.test=1",
        f"Step 6/6 : LABEL fogbank.test.run={scratch.run_id}",
    ]
    assert all(line and not line.endswith("\n") for line in lines.text)
    # the first step reached on_line while the 1 s RUN was still ahead: streamed, not batched
    first_at = lines.received[0][0]
    assert returned_at - first_at >= 0.9
    assert image_id.startswith("sha256:")
    assert await docker_engine.image_exists(scratch.tag())
    found = await docker_engine.images(scratch.labels)
    assert [(i, t) for i, t, _ in found] == [(image_id, [scratch.tag()])]
    assert found[0][2]["fogbank.test"] == "1"


async def test_build_honours_dockerignore_and_build_args(
    docker_engine: Engine, scratch: Scratch
) -> None:
    context = scratch.context(
        "ARG GREETING\nCOPY . /ctx\n"
        'RUN ["/bin/busybox", "sh", "-c", '
        '"test ! -e /ctx/secret.txt && test -e /ctx/kept.txt && echo greeting=$GREETING"]',
        files={".dockerignore": "# comment\nsecret.txt\n", "secret.txt": "s", "kept.txt": "k"},
    )
    lines = Lines()

    await build(docker_engine, scratch, context, lines=lines, buildargs={"GREETING": "hi-there"})

    assert "greeting=hi-there" in lines.text


async def test_failing_run_step_raises_build_error_quoting_docker(
    docker_engine: Engine, scratch: Scratch
) -> None:
    context = scratch.context('RUN ["/bin/busybox", "false"]')
    lines = Lines()

    with pytest.raises(BuildError) as caught:
        await build(docker_engine, scratch, context, lines=lines)

    assert caught.value.message == (
        "docker build failed: The command '/bin/busybox false' returned a non-zero code: 1"
    )
    assert 'Step 4/6 : RUN ["/bin/busybox", "false"]' in lines.text
    assert not await docker_engine.image_exists(scratch.tag())


async def test_bad_dockerfile_or_context_is_a_build_error(
    docker_engine: Engine, scratch: Scratch, tmp_path: Path
) -> None:
    context = scratch.context("")
    (tmp_path / "Outside").write_text("FROM scratch\n")
    for dockerfile, message in [
        ("Missing.Dockerfile", "'Missing.Dockerfile' not found in the build context"),
        ("../Outside", "'../Outside' is outside the build context"),
    ]:
        with pytest.raises(BuildError, match=message):
            await docker_engine.build(
                context,
                dockerfile=dockerfile,
                tag=scratch.tag(),
                labels=scratch.labels,
                buildargs={},
                on_line=Lines(),
            )
    with pytest.raises(BuildError, match="is not a directory"):
        await build(docker_engine, scratch, tmp_path / "nowhere")
    (context / "Dockerfile").write_text("FROM scratch\nNOTANINSTRUCTION x\n")
    with pytest.raises(
        BuildError, match=r"^docker build failed: .*unknown instruction: NOTANINSTRUCTION$"
    ):
        await build(docker_engine, scratch, context)


async def test_cancelling_a_build_aborts_it_in_the_daemon(
    docker_engine: Engine, scratch: Scratch
) -> None:
    context = scratch.context('RUN ["/bin/busybox", "sleep", "60"]')
    running = asyncio.Event()
    steps: list[str] = []

    async def on_line(line: str) -> None:
        if line.startswith("Step "):
            steps.append(line)
        # the RUN step is silent from here on: the build thread sits blocked on the socket
        elif "Running in" in line and steps[-1].startswith("Step 4/"):
            running.set()

    task = asyncio.create_task(
        docker_engine.build(
            context,
            dockerfile="Dockerfile",
            tag=scratch.tag(),
            labels=scratch.labels,
            buildargs={},
            on_line=on_line,
        )
    )
    try:
        await asyncio.wait_for(running.wait(), timeout=30)
    finally:
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert time.monotonic() - started < 5

    # dockerd kills and removes the RUN container (forcerm) once it sees the client leave
    deadline = time.monotonic() + 20
    while await docker_engine.containers({"fogbank.test.run": scratch.run_id}):
        assert time.monotonic() < deadline, "the build container outlived the cancellation"
        await asyncio.sleep(0.2)
    assert not await docker_engine.image_exists(scratch.tag())


@pytest.fixture
async def httpd_image(docker_engine: Engine, scratch: Scratch) -> str:
    context = scratch.context(
        f"COPY www /www\nEXPOSE 3000\nCMD {HTTPD}", files={"www/index.html": "hello fogbank\n"}
    )
    await build(docker_engine, scratch, context)
    return scratch.tag()


async def test_run_publishes_on_loopback_and_answers_http(
    docker_engine: Engine, scratch: Scratch, httpd_image: str
) -> None:
    state = await docker_engine.run(
        name=scratch.name(),
        image=httpd_image,
        env={"GREETING": "hi"},
        labels=scratch.labels,
        container_port=3000,
        host_port=None,
        restart_policy="no",
        memory_bytes=64 * 1024 * 1024,
        nano_cpus=500_000_000,
    )

    assert state.running
    assert state.status == "running"
    assert state.name == scratch.name()
    assert state.image == httpd_image
    assert state.labels["fogbank.test.run"] == scratch.run_id
    assert state.exit_code is None
    assert state.host_port is not None
    body = await get_when_ready(f"http://{LOOPBACK}:{state.host_port}/")
    assert body == "hello fogbank\n"
    attrs = await asyncio.to_thread(raw_attrs, state.id)
    assert attrs["HostConfig"]["PortBindings"] == {
        "3000/tcp": [{"HostIp": LOOPBACK, "HostPort": ""}]
    }
    assert attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert "GREETING=hi" in attrs["Config"]["Env"]
    assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"


def raw_attrs(container_id: str) -> dict[str, Any]:
    client = docker.from_env()
    try:
        return client.containers.get(container_id).attrs
    finally:
        client.close()


async def get_when_ready(url: str, timeout_seconds: float = 10) -> str:
    """GET `url` until the server accepts the connection (httpd starts asynchronously)."""
    deadline = time.monotonic() + timeout_seconds
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                response = await client.get(url)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
                continue
            assert response.status_code == 200
            return response.text


async def test_inspect_stop_start_logs_and_remove(
    docker_engine: Engine, scratch: Scratch, httpd_image: str
) -> None:
    state = await docker_engine.run(
        name=scratch.name(),
        image=httpd_image,
        env={},
        labels=scratch.labels,
        container_port=3000,
        host_port=None,
        restart_policy="on-failure:3",
    )

    by_name = await docker_engine.inspect(scratch.name())
    assert by_name is not None
    assert by_name.id == state.id
    assert by_name.host_port == state.host_port
    assert isinstance(await docker_engine.logs(state.id), list)

    await docker_engine.stop(state.id, timeout_seconds=1)
    stopped = await docker_engine.inspect(state.id)
    assert stopped is not None
    assert not stopped.running
    assert stopped.status == "exited"
    assert stopped.exit_code is not None
    assert stopped.host_port is None

    await docker_engine.start(state.id)
    restarted = await docker_engine.inspect(state.id)
    assert restarted is not None
    assert restarted.running

    await docker_engine.remove_container(state.id)
    assert await docker_engine.inspect(state.id) is None
    await docker_engine.remove_container(state.id)  # already gone: no error
    await docker_engine.stop(state.id)  # already gone: counts as stopped
    with pytest.raises(EngineError, match="No such container"):
        await docker_engine.start(state.id)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port held by this process, so Docker cannot publish on it."""
    sock = socket.create_server((LOOPBACK, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def test_run_on_a_taken_port_fails_cleanly(
    docker_engine: Engine, scratch: Scratch, httpd_image: str, busy_port: int
) -> None:
    with pytest.raises(
        EngineError, match=f"cannot start container {scratch.name()}: .*{busy_port}"
    ):
        await docker_engine.run(
            name=scratch.name(),
            image=httpd_image,
            env={},
            labels=scratch.labels,
            container_port=3000,
            host_port=busy_port,
            restart_policy="no",
        )

    assert await docker_engine.inspect(scratch.name()) is None


async def test_run_with_a_fixed_host_port(
    docker_engine: Engine, scratch: Scratch, httpd_image: str
) -> None:
    # a port the kernel just handed out and released is free for Docker
    probe = socket.create_server((LOOPBACK, 0))
    port = probe.getsockname()[1]
    probe.close()

    state = await docker_engine.run(
        name=scratch.name(),
        image=httpd_image,
        env={},
        labels=scratch.labels,
        container_port=3000,
        host_port=port,
        restart_policy="no",
    )

    assert state.host_port == port
    assert await get_when_ready(f"http://{LOOPBACK}:{port}/") == "hello fogbank\n"


async def test_unknown_image_or_policy_is_an_engine_error(
    docker_engine: Engine, scratch: Scratch
) -> None:
    with pytest.raises(EngineError, match="cannot start container"):
        await docker_engine.run(
            name=scratch.name(),
            image=f"fogbank-test/missing:{scratch.run_id}",
            env={},
            labels=scratch.labels,
            container_port=3000,
            host_port=None,
        )
    with pytest.raises(EngineError, match="unknown restart policy"):
        await docker_engine.run(
            name=scratch.name(),
            image="x",
            env={},
            labels=scratch.labels,
            container_port=3000,
            host_port=None,
            restart_policy="sometimes",
        )


async def test_containers_filters_on_every_label(
    docker_engine: Engine, scratch: Scratch, httpd_image: str
) -> None:
    made = {}
    for role in ("web", "worker"):
        made[role] = await docker_engine.run(
            name=scratch.name(role),
            image=httpd_image,
            env={},
            labels={**scratch.labels, "role": role},
            container_port=3000,
            host_port=None,
            restart_policy="no",
        )
    await docker_engine.stop(made["worker"].id, timeout_seconds=1)

    web = await docker_engine.containers({**scratch.labels, "role": "web"})
    both = await docker_engine.containers(scratch.labels)
    none = await docker_engine.containers({**scratch.labels, "role": "db"})

    assert [c.id for c in web] == [made["web"].id]
    assert {c.id for c in both} == {made["web"].id, made["worker"].id}
    assert {c.name: c.running for c in both} == {
        scratch.name("web"): True,
        scratch.name("worker"): False,
    }
    assert none == []


async def test_remove_image(docker_engine: Engine, scratch: Scratch) -> None:
    image_id = await build(docker_engine, scratch, scratch.context(""))
    assert await docker_engine.image_exists(image_id)

    await docker_engine.remove_image(scratch.tag())

    assert not await docker_engine.image_exists(scratch.tag())
    assert not await docker_engine.image_exists(image_id)
    assert await docker_engine.images(scratch.labels) == []
    await docker_engine.remove_image(scratch.tag())  # already gone: no error


async def test_ping_reports_an_unreachable_engine(tmp_path: Path) -> None:
    client = docker.DockerClient(base_url=f"unix://{tmp_path}/no-docker.sock", version="1.41")
    engine = Engine(client)
    try:
        with pytest.raises(EngineError, match=r"^Docker engine is not reachable: "):
            await engine.ping()
        with pytest.raises(EngineError, match="Docker engine is not reachable"):
            await engine.containers({})
    finally:
        await engine.close()
