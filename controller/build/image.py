"""Commit -> image, with bounds: free disk checked first, a time limit, memory and CPU limits on
build steps, and over-long output lines cut. Used by the pipeline and by drift repair."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from controller.build.docker import docker_build
from controller.config import Settings
from controller.errors import BuildError
from controller.runtime.engine import Engine
from controller.runtime.naming import labels
from controller.source.mirror import GitSync
from controller.store.models import App, Deployment, EnvVar

LineSink = Callable[[str], Awaitable[None]]
MIB = 1024 * 1024


@dataclass
class ImageBuilder:
    settings: Settings
    engine: Engine
    git: GitSync

    def workdir(self, deployment: Deployment) -> Path:
        return self.settings.builds_dir / str(deployment.id)

    async def checkout(self, app: App, deployment: Deployment) -> Path:
        """Export the exact commit into a fresh build directory; returns the build context.
        A deployment named by the remote's head alone (a manual add) gets the commit's
        message and author here, once the commit is fetched."""
        workdir = self.workdir(deployment)
        await asyncio.to_thread(shutil.rmtree, workdir, True)
        await self._check_disk()
        commit = await self.git.export(
            app.name, self.git.remote_of(app), app.git_branch, deployment.commit_hash, workdir
        )
        if not deployment.commit_author:
            deployment.commit_message, deployment.commit_author = commit.message, commit.author
            await deployment.save(update_fields=["commit_message", "commit_author", "updated_at"])
        context = workdir / app.root_directory
        if not context.is_dir():
            raise BuildError(f"rootDirectory '{app.root_directory}' does not exist in the commit")
        if not (context / app.dockerfile_path).is_file():
            raise BuildError(
                f"Dockerfile '{app.dockerfile_path}' not found in '{app.root_directory}'"
            )
        return context

    async def build(
        self,
        app: App,
        envs: list[EnvVar],
        deployment: Deployment,
        context: Path,
        tag: str,
        on_line: LineSink,
    ) -> None:
        """docker build of `context` into `tag`, within build.timeout_seconds."""
        limits = self.settings.build
        max_chars = limits.max_line_chars

        async def bounded(line: str) -> None:
            if len(line) > max_chars:
                line = f"{line[:max_chars]} ...[line cut: {len(line) - max_chars} more chars]"
            await on_line(line)

        try:
            async with asyncio.timeout(limits.timeout_seconds):
                await docker_build(
                    self.engine,
                    context,
                    dockerfile=app.dockerfile_path,
                    tag=tag,
                    labels=labels(app, deployment),
                    buildargs={e.key: e.value for e in envs if e.is_build_arg and not e.is_secret},
                    on_line=bounded,
                    memory_bytes=limits.memory_limit_mb * MIB,
                    cpu_shares=limits.cpu_shares,
                )
        except TimeoutError as exc:
            raise BuildError(
                f"docker build took longer than build.timeout_seconds ({limits.timeout_seconds:g} s)"
            ) from exc

    async def rebuild(
        self, app: App, envs: list[EnvVar], deployment: Deployment, on_line: LineSink
    ) -> None:
        """Build a deployment's image again from its commit, under its own tag."""
        try:
            context = await self.checkout(app, deployment)
            await self.build(app, envs, deployment, context, deployment.image_tag, on_line)
        finally:
            await self.clean(deployment)

    async def clean(self, deployment: Deployment) -> None:
        await asyncio.shield(asyncio.to_thread(shutil.rmtree, self.workdir(deployment), True))

    async def _check_disk(self) -> None:
        usage = await asyncio.to_thread(shutil.disk_usage, self.settings.storage.data_dir)
        free_mb = usage.free // MIB
        if free_mb < self.settings.build.min_free_disk_mb:
            raise BuildError(
                f"only {free_mb} MiB free under {self.settings.storage.data_dir}; a build needs "
                f"build.min_free_disk_mb ({self.settings.build.min_free_disk_mb} MiB)"
            )
