"""A build's output and context against the real Docker daemon: every line whole however Docker
cuts its stream, the labels in one LABEL step that no COPY sees, the COPY layer cached across
deployments."""

from __future__ import annotations

import json

import pytest

from controller.build.context import LABELLED_DOCKERFILE
from controller.build.docker import docker_build
from controller.runtime.engine import Engine
from tests.support.engine import Lines, Scratch, build

pytestmark = pytest.mark.slow

LINES = 100_000


async def test_a_build_printing_100000_numbered_lines_logs_every_line_whole(
    docker_engine: Engine, scratch: Scratch
) -> None:
    # awk prints as fast as it can: Docker's stream cuts the output wherever its buffers end,
    # so many lines arrive in two stream items.
    program = f'BEGIN {{ for (i = 1; i <= {LINES}; i++) print "numbered line " i " end" }}'
    context = scratch.context(f"RUN {json.dumps(['/bin/busybox', 'awk', program])}")
    lines = Lines()

    await build(docker_engine, scratch, context, lines=lines)

    output = [line for line in lines.text if not line.startswith(("Step ", " ---> ", "Removing "))]
    numbered = [line for line in output if "numbered" in line or line.endswith(" end")]
    assert numbered == [f"numbered line {n} end" for n in range(1, LINES + 1)]


def show(*commands: str) -> str:
    """A RUN step printing what COPY . put under /ctx (one FILES line), and more."""
    script = "; ".join(["echo FILES $(/bin/busybox ls -A /ctx)", *commands])
    return f'COPY . /ctx\nRUN ["/bin/busybox", "sh", "-c", "{script}"]'


def listed(lines: Lines, prefix: str) -> list[str]:
    return [line.removeprefix(prefix) for line in lines.text if line.startswith(prefix)]


async def test_the_labelled_dockerfile_stays_out_of_copy_and_copy_stays_cached(
    docker_engine: Engine, scratch: Scratch
) -> None:
    context = scratch.context(show(), files={"kept.txt": "k"})
    first, second = Lines(), Lines()

    await build(docker_engine, scratch, context, lines=first)
    await docker_build(
        docker_engine,
        context,
        dockerfile="Dockerfile",
        tag=scratch.tag("second"),
        labels={**scratch.labels, "fogbank.deployment": "2"},
        buildargs={},
        on_line=second,
    )

    # what COPY . copied: the context as the repository has it, nothing fogbank added
    assert listed(first, "FILES ") == ["Dockerfile busybox kept.txt"]
    # other labels, same context: the COPY . layer (and the RUN after it) come from the cache
    copy_step = second.text.index("Step 4/6 : COPY . /ctx")
    assert second.text[copy_step + 1] == " ---> Using cache"
    assert listed(second, "FILES ") == []  # the RUN step was cached too: it printed nothing
    found = await docker_engine.images({"fogbank.deployment": "2", **scratch.labels})
    assert [tags for _, tags, _ in found] == [[scratch.tag("second")]]


async def test_a_repository_dockerignore_still_applies_and_gains_one_line(
    docker_engine: Engine, scratch: Scratch
) -> None:
    context = scratch.context(
        show("/bin/busybox sed s/^/IGNORE:/ /ctx/.dockerignore"),
        files={".dockerignore": "# comment\nsecret.txt", "secret.txt": "s", "kept.txt": "k"},
    )
    lines = Lines()

    await build(docker_engine, scratch, context, lines=lines)

    assert listed(lines, "FILES ") == [".dockerignore Dockerfile busybox kept.txt"]
    # the repository's file, and the name the daemon leaves out of the context
    assert listed(lines, "IGNORE:") == ["# comment", "secret.txt", LABELLED_DOCKERFILE]
