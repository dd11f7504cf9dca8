"""Reference -> image, for image and template apps: the pull (its progress as log lines), the
digest it resolved to, and the app's own image on top of it (fogbank's name and labels, so
retention, rollback and cleanup treat it like a built one)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors

from controller.build.registry import Auth, credentials_for
from controller.build.stream import LineSink, handle_build_item
from controller.config import Settings
from controller.errors import BuildError, EngineError, FogbankError
from controller.runtime.engine import Engine
from controller.runtime.naming import labels
from controller.runtime.reference import ImageRef, commit_of, is_digest, parse
from controller.store.models import App, Deployment

log = logging.getLogger(__name__)
ProgressSink = Callable[[int, int], Awaitable[None]]
# A layer's download or extraction is logged at these percentages, not at every chunk.
LOGGED_STEPS = (25, 50, 75)
MB = 1_000_000


class PullFailed(FogbankError):
    code = "PULL_FAILED"


@dataclass
class PullProgress:
    """Bytes downloaded over all layers, and which lines of the stream are worth logging."""

    layers: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (current, total)
    logged: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def done(self) -> tuple[int, int]:
        return sum(c for c, _ in self.layers.values()), sum(t for _, t in self.layers.values())

    def line(self, item: dict[str, Any]) -> str | None:
        status = str(item.get("status") or "").strip()
        layer = str(item.get("id") or "")
        detail = item.get("progressDetail") or {}
        current, total = int(detail.get("current") or 0), int(detail.get("total") or 0)
        if status == "Downloading" and total:
            self.layers[layer] = (current, total)
        elif status in ("Download complete", "Already exists", "Pull complete"):
            size = self.layers.get(layer, (0, 0))[1]
            self.layers[layer] = (size, size)
        if status in ("Downloading", "Extracting", "Waiting"):
            if not total:
                return None
            percent = 100 * current // total
            passed = [step for step in LOGGED_STEPS if percent >= step]
            if not passed or self.logged.get((layer, status), 0) >= passed[-1]:
                return None
            self.logged[(layer, status)] = passed[-1]
            return f"{layer}: {status} {passed[-1]}% of {total / MB:.1f} MB"
        if not status:
            return None
        return f"{layer}: {status}" if layer and layer != status else status


async def pull(
    engine: Engine, ref: ImageRef, auth: Auth | None, on_line: LineSink, on_progress: ProgressSink
) -> str:
    """Pull `ref`, streaming its progress; the digest it resolved to."""
    progress = PullProgress()
    digest = ref.digest
    stream = engine.stream(
        lambda client: client.api.pull(
            ref.repository, tag=ref.digest or ref.tag, stream=True, decode=True, auth_config=auth
        ),
        action=f"pulling {ref} failed",
        error=PullFailed,
    )
    async with aclosing(stream) as items:
        async for item in items:
            if not isinstance(item, dict):
                continue
            if "error" in item or "errorDetail" in item:
                message = item.get("error") or (item.get("errorDetail") or {}).get("message")
                raise PullFailed(f"pulling {ref} failed: {str(message or 'unknown error').strip()}")
            status = str(item.get("status") or "")
            if status.startswith("Digest: "):
                digest = status.removeprefix("Digest: ").strip()
            if (line := progress.line(item)) is not None:
                await on_line(line)
            await on_progress(*progress.done)
    if not is_digest(digest):
        raise PullFailed(f"pulling {ref} gave no image digest")
    return digest


async def derive(
    engine: Engine, source: str, tag: str, image_labels: dict[str, str], on_line: LineSink
) -> None:
    """`tag`: the pulled image `source` (its id) with fogbank's labels (a new image id sharing
    its layers)."""
    dockerfile = f"FROM {source}\n".encode()  # `source` is an image id (checked): one safe line
    stream = engine.stream(
        lambda client: client.api.build(
            fileobj=io.BytesIO(dockerfile),
            tag=tag,
            labels=image_labels,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        ),
        action=f"preparing {source} failed",
        error=BuildError,
    )
    async with aclosing(stream) as items:
        async for item in items:
            if isinstance(item, dict):
                await handle_build_item(item, on_line)


@dataclass
class ImagePuller:
    settings: Settings
    engine: Engine

    async def fetch(
        self,
        app: App,
        deployment: Deployment,
        tag: str,
        on_line: LineSink,
        on_progress: ProgressSink,
    ) -> str:
        """Pull the deployment's image (exactly its digest when it names one: a rollback, a
        poll, drift repair) and make it `tag`; records and returns the digest. The pulled
        reference is untagged again unless it was there before: the image's layers then belong
        to fogbank's labelled image alone, and go when retention prunes it."""
        ref = parse(deployment.image_ref or app.image)
        pinned = is_digest(deployment.image_digest)
        wanted = parse(ref.pinned(deployment.image_digest)) if pinned else ref
        auth = await credentials_for(app, ref)
        limit = self.settings.build.timeout_seconds
        there_before = await self.engine.image_exists(str(wanted))
        try:
            async with asyncio.timeout(limit):
                digest = await pull(self.engine, wanted, auth, on_line, on_progress)
                await on_line(f"Pulled {ref} at {digest}")
                deployment.image_digest = digest
                deployment.commit_hash = commit_of(digest)
                # By id: another deployment untagging the same pull cannot take it away.
                image_id = await self.engine.image_id(ref.pinned(digest))
                if not is_digest(image_id):
                    raise PullFailed(f"pulling {ref} gave no image id")
                await derive(self.engine, image_id, tag, labels(app, deployment), on_line)
        except TimeoutError as exc:
            raise PullFailed(
                f"pulling {ref} took longer than build.timeout_seconds ({limit:g} s)"
            ) from exc
        if not there_before:
            await self._untag(str(wanted), ref.pinned(digest))
        return digest

    async def _untag(self, *references: str) -> None:
        """Drop the references a pull added (never by force: an image something else uses, or
        that has fogbank's image on top of it, keeps its layers)."""

        def untag(client: docker.DockerClient) -> None:
            for reference in references:
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(reference)

        try:
            await self.engine.call("cannot untag the pulled image", untag)
        except EngineError as exc:
            log.warning("%s", exc.message)
