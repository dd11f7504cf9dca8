"""Engine.build against the real Docker daemon: streamed steps, .dockerignore and build args,
failures quoted from Docker, a cancelled build aborted in the daemon."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from controller.build.docker import docker_build
from controller.errors import BuildError
from controller.runtime.engine import Engine
from tests.support.engine import Lines, Scratch, build

pytestmark = pytest.mark.slow


async def test_build_streams_steps_while_it_runs(docker_engine: Engine, scratch: Scratch) -> None:
    context = scratch.context('RUN ["/bin/busybox", "sleep", "1"]')
    lines = Lines()

    image_id = await build(docker_engine, scratch, context, lines=lines)
    returned_at = time.monotonic()

    steps = [line for line in lines.text if line.startswith("Step ")]
    # the build's labels come as one LABEL step at the end (the legacy builder would add one
    # step per label given to its API)
    assert steps == [
        "Step 1/5 : FROM scratch",
        f"Step 2/5 : LABEL fogbank.test.run={scratch.run_id}",
        "Step 3/5 : COPY busybox /bin/busybox",
        'Step 4/5 : RUN ["/bin/busybox", "sleep", "1"]',
        f'Step 5/5 : LABEL "fogbank.test"="1" "fogbank.test.run"="{scratch.run_id}"',
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
    assert 'Step 4/5 : RUN ["/bin/busybox", "false"]' in lines.text
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
            await docker_build(
                docker_engine,
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
        docker_build(
            docker_engine,
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
