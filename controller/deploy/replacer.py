"""What the pipeline asks of a runtime backend: put a built deployment in place of the running
one, start-first or stop-first, leaving the previous version serving on any failure. The plain
Docker engine (deploy/swap.py) and Docker Swarm (deploy/swarm_swap.py) both answer it."""

from __future__ import annotations

from typing import Protocol

from controller.config import Settings
from controller.deploy.inflight import RunControl
from controller.deploy.progress import Tracker
from controller.deploy.swap import Swapper
from controller.deploy.swarm_swap import SwarmSwapper
from controller.edge.switchboard import Switchboard
from controller.runtime.engine import Engine
from controller.runtime.swarm.client import SwarmClient
from controller.store.models import App, Deployment, EnvVar


class Replacer(Protocol):
    async def start_first(
        self,
        app: App,
        envs: list[EnvVar],
        deployment: Deployment,
        previous: Deployment | None,
        tracker: Tracker,
        control: RunControl,
    ) -> None: ...

    async def stop_first(
        self,
        app: App,
        envs: list[EnvVar],
        deployment: Deployment,
        previous: Deployment | None,
        tracker: Tracker,
    ) -> None: ...

    async def activated(self, app_id: int) -> None:
        """The app's deployment just became the active one: where its traffic goes now."""

    async def refollow(self) -> None:
        """At start and every drift round: the edge onto where each app runs now."""

    async def forget(self, app: App) -> None:
        """The app was deleted: remove what the backend runs of it beyond its containers."""

    async def close(self) -> None:
        """Release what the backend holds of its own (its engine client)."""


def make_replacer(settings: Settings, engine: Engine, switchboard: Switchboard) -> Replacer:
    """The backend `runtime.backend` names: this host's Docker engine, or Docker Swarm."""
    if settings.runtime.backend == "swarm":
        return SwarmSwapper(settings, SwarmClient(), switchboard)
    return Swapper(settings, engine, switchboard)
