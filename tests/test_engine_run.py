"""Engine containers against the real Docker daemon: run on loopback, inspect, stop, start,
logs, remove, port conflicts, label filters, image removal, an unreachable engine."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from controller.errors import EngineError
from controller.runtime.engine import LOOPBACK, Engine
from tests.support.engine import Scratch, build, get_when_ready, raw_attrs


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
