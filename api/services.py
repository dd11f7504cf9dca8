"""What one running app holds, reachable from any handler: the controller's one face, the
webhook reception and intake, the login limiter, the credential watch of open WebSockets and
readiness."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from api.sockets import CredentialWatch
from controller.accounts.limiter import LoginLimiter
from controller.config import Settings
from controller.service import Controller
from controller.upkeep.readiness import Readiness
from webhooks.intake import DeliveryIntake
from webhooks.reception import Reception

EXTENSION_KEY = "fogbank"


@dataclass
class Services:
    controller: Controller
    intake: DeliveryIntake
    reception: Reception
    login_limiter: LoginLimiter
    sockets: CredentialWatch
    readiness: Readiness  # /api/ready: the database, Docker and the edge

    @property
    def settings(self) -> Settings:
        return self.controller.settings


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found


def controller() -> Controller:
    return services().controller
