"""What a docker build is given and what it says: inputs checked before it starts, limits for
its steps, and its streamed output turned into lines (an error item fails the build)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypedDict

from controller.errors import BuildError

LineSink = Callable[[str], Awaitable[None]]


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


async def handle_build_item(item: dict[str, Any], on_line: LineSink) -> str | None:
    """Forward the item's text to `on_line`; return the image id when the item carries it."""
    if "error" in item or "errorDetail" in item:
        message = item.get("error") or (item.get("errorDetail") or {}).get("message")
        raise BuildError(f"docker build failed: {str(message or 'unknown error').strip()}")
    text = item.get("stream") or item.get("status")
    if isinstance(text, str):
        for line in text.splitlines():
            if line := line.rstrip():
                await on_line(line)
    aux = item.get("aux")
    if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
        return str(aux["ID"])
    return None
