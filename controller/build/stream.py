"""What a docker build is given and what it says: inputs checked before it starts, limits for
its steps, and its streamed output turned into lines (an error item fails the build)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypedDict

from controller.errors import BuildError

LineSink = Callable[[str], Awaitable[None]]
# The most of an unterminated line held back waiting for its end (build.max_line_chars cuts
# lines shorter than this anyway).
MAX_PENDING_CHARS = 1024 * 1024


class BuildLimits(TypedDict, total=False):  # the SDK's container_limits
    memory: int
    memswap: int
    cpushares: int
    cpusetcpus: str


def build_limits(memory_bytes: int | None, cpu_shares: int | None) -> BuildLimits | None:
    limits: BuildLimits = {}
    if memory_bytes is not None:
        # memswap equal to memory: a build step cannot escape its limit into swap.
        limits["memory"] = memory_bytes
        limits["memswap"] = memory_bytes
    if cpu_shares is not None:
        limits["cpushares"] = cpu_shares
    return limits or None


def check_build_inputs(context: Path, dockerfile: str) -> None:
    if not context.is_dir():
        raise BuildError(f"build context {context} is not a directory")
    path = (context / dockerfile).resolve()
    # the SDK would happily read a Dockerfile from anywhere on the host into the build
    if not path.is_relative_to(context.resolve()):
        raise BuildError(f"dockerfile {dockerfile!r} is outside the build context")
    if not path.is_file():
        raise BuildError(f"dockerfile {dockerfile!r} not found in the build context")


class BuildOutput:
    """A build's stream items turned into whole lines. Docker cuts RUN output wherever its
    buffers end, so a line may arrive in two `stream` items: the unterminated tail of one item
    waits for the next (or for `flush`). A tail longer than `max_pending_chars` is let go as a
    line of its own, so a step printing without newlines cannot grow it without bound."""

    def __init__(self, on_line: LineSink, max_pending_chars: int = MAX_PENDING_CHARS) -> None:
        self._on_line = on_line
        self._max_pending_chars = max_pending_chars
        self._tail = ""
        self.image_id: str | None = None

    async def feed(self, item: dict[str, Any]) -> None:
        """One item: its text forwarded as lines, its error raised, its image id kept."""
        if "error" in item or "errorDetail" in item:
            await self.flush()
            message = item.get("error") or (item.get("errorDetail") or {}).get("message")
            raise BuildError(f"docker build failed: {str(message or 'unknown error').strip()}")
        text = item.get("stream")
        if isinstance(text, str):
            await self._stream(text)
        status = item.get("status")
        if isinstance(status, str) and not isinstance(text, str):
            await self.flush()  # a status item is a whole message of its own
            await self._emit(status)
        aux = item.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
            self.image_id = str(aux["ID"])

    async def flush(self) -> None:
        """The unterminated tail, as a line (the stream ended or something else comes)."""
        tail, self._tail = self._tail, ""
        await self._emit(tail)

    async def _stream(self, text: str) -> None:
        text = self._tail + text
        end = text.rfind("\n") + 1
        self._tail = text[end:]
        await self._emit(text[:end])
        if len(self._tail) > self._max_pending_chars:
            await self.flush()

    async def _emit(self, text: str) -> None:
        for line in text.splitlines():
            if line := line.rstrip():
                await self._on_line(line)


async def handle_build_item(item: dict[str, Any], on_line: LineSink) -> str | None:
    """One item taken as whole lines (for short streams whose items end their lines, such as
    a pull's); return the image id when the item carries it. A build uses BuildOutput."""
    output = BuildOutput(on_line)
    await output.feed(item)
    await output.flush()
    return output.image_id
