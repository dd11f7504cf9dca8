"""The controller objects one running app holds, reachable from any handler."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from controller.auth import LoginLimiter
from controller.config import Settings
from controller.edge import Edge
from controller.engine import Engine
from controller.events import DeploymentLogs, EventBus
from controller.gitsync import GitSync
from controller.reconciler import Reconciler
from webhooks.intake import DeliveryIntake

EXTENSION_KEY = "fogbank"


@dataclass
class Services:
    settings: Settings
    engine: Engine
    edge: Edge
    git: GitSync
    bus: EventBus
    logs: DeploymentLogs
    reconciler: Reconciler
    login_limiter: LoginLimiter
    intake: DeliveryIntake


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found
