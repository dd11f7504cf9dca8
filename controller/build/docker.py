"""The docker build itself: the context sent to the daemon (with the labels in one LABEL step,
context.py), every output line streamed whole to the deployment's log, an error in the stream
quoted, cancellation aborting the build."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path
from typing import IO, Any

from controller.build.context import LABELLED_DOCKERFILE, build_tar, labelled_dockerfile
from controller.build.stream import BuildOutput, LineSink, build_limits, check_build_inputs
from controller.errors import BuildError
from controller.runtime.engine import Engine


async def docker_build(
    engine: Engine,
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
    tar = await asyncio.to_thread(_prepare, context, dockerfile, labels)
    options: dict[str, Any] = {
        "tag": tag,
        "buildargs": dict(buildargs),  # the SDK adds proxy args to the dict
        "decode": True,
        "rm": True,
        "forcerm": True,
        "pull": False,
        "container_limits": build_limits(memory_bytes, cpu_shares),
        "timeout": None,  # a silent RUN step may last long; cancellation ends it
    }
    if tar is None:  # the SDK tars the directory and adds a LABEL step per label
        options.update(path=str(context), dockerfile=dockerfile, labels=labels)
    else:
        options.update(fileobj=tar, custom_context=True, dockerfile=LABELLED_DOCKERFILE)
    stream = engine.stream(
        lambda client: client.api.build(**options),
        action="docker build failed",
        error=BuildError,
    )
    output = BuildOutput(on_line)
    try:
        async with aclosing(stream) as items:
            async for item in items:
                if isinstance(item, dict):
                    await output.feed(item)
        await output.flush()
    finally:
        if tar is not None:
            tar.close()  # the stream's thread has ended: pump waits for it
    return output.image_id or await engine.image_id(tag)


def _prepare(context: Path, dockerfile: str, labels: dict[str, str]) -> IO[bytes] | None:
    """The tar with the labelled Dockerfile, or None when the labels cannot be appended."""
    text = (context / dockerfile).read_text(encoding="utf-8", errors="surrogateescape")
    labelled = labelled_dockerfile(text, labels)
    return None if labelled is None else build_tar(context, dockerfile, labelled)
