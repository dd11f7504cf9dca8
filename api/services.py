"""The controller objects one running app holds, reachable from any handler."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from controller.accounts.auth import LoginLimiter
from controller.config import Settings
from controller.deploy.workers import Reconciler
from controller.edge.supervisor import Edge
from controller.events.deployment_logs import DeploymentLogs, EventBus
from controller.runtime.engine import Engine
from controller.source.mirror import GitSync
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
