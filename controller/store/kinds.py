"""The values a column of the models may hold (app types, statuses, stages, triggers, update
orders, roles), apart from the tables themselves; controller/store/models.py re-exports them."""

from __future__ import annotations

from enum import StrEnum


class AppType(StrEnum):
    WEB = "web"
    SERVICE = "service"
    DATABASE = "database"


class Status(StrEnum):
    PENDING = "pending"
    BUILDING = "building"
    DEPLOYING = "deploying"
    SUCCESS = "success"
    FAILED = "failed"
    STOPPED = "stopped"
    ROLLED_BACK = "rolled_back"


IN_FLIGHT = (Status.BUILDING, Status.DEPLOYING)
TERMINAL = (Status.SUCCESS, Status.FAILED, Status.STOPPED, Status.ROLLED_BACK)


class Stage(StrEnum):
    NONE = ""
    CLONING_REPO = "cloning_repo"
    BUILDING_IMAGE = "building_image"
    STARTING_NEW = "starting_new"
    STOPPING_OLD = "stopping_old"
    COMPLETED = "completed"


class Trigger(StrEnum):
    MANUAL = "manual"
    WEBHOOK = "webhook"
    POLL = "poll"
    ROLLBACK = "rollback"


class UpdateOrder(StrEnum):
    START_FIRST = "start-first"
    STOP_FIRST = "stop-first"


class Role(StrEnum):
    VIEWER = "viewer"
    DEPLOYER = "deployer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return {Role.VIEWER: 0, Role.DEPLOYER: 1, Role.ADMIN: 2}[self]
