"""The docker build itself: the context sent to the daemon, every output line streamed to the
deployment's log, an error in the stream quoted, cancellation aborting the build."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

from controller.build.stream import LineSink, build_limits, check_build_inputs, handle_build_item
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
    image_id: str | None = None
    stream = engine.stream(
        lambda client: client.api.build(
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
        ),
        action="docker build failed",
        error=BuildError,
    )
    async with aclosing(stream) as items:
        async for item in items:
            if isinstance(item, dict):
                image_id = await handle_build_item(item, on_line) or image_id
    return image_id or await engine.image_id(tag)
