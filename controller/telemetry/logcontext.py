"""What every log line of a request or a deployment carries: the request id, the user, the
deployment id and its app, held in context variables so asyncio tasks (and the threads
asyncio.to_thread starts) inherit them, and copied onto each record by ContextFilter."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestInfo:
    """One HTTP request or WebSocket. Mutable: the auth guard, deep inside the request, names
    the user here, and the access log line written at the end reads it."""

    request_id: str
    user: str = ""


@dataclass(frozen=True)
class DeploymentInfo:
    deployment_id: int
    app: str


current_request: ContextVar[RequestInfo | None] = ContextVar("fogbank_request", default=None)
current_deployment: ContextVar[DeploymentInfo | None] = ContextVar(
    "fogbank_deployment", default=None
)
current_app: ContextVar[str | None] = ContextVar("fogbank_app", default=None)


@contextlib.contextmanager
def deployment_context(deployment_id: int, app: str) -> Iterator[None]:
    """Every record logged inside (and in tasks started inside) names this deployment."""
    token = current_deployment.set(DeploymentInfo(deployment_id, app))
    try:
        yield
    finally:
        current_deployment.reset(token)


@contextlib.contextmanager
def app_context(app: str) -> Iterator[None]:
    """Every record logged inside names this app (drift repair, notifications)."""
    token = current_app.set(app)
    try:
        yield
    finally:
        current_app.reset(token)


def set_user(username: str) -> None:
    """Name the caller of the current request (for its access log line)."""
    info = current_request.get()
    if info is not None:
        info.user = username


class ContextFilter(logging.Filter):
    """Copies the current request and deployment onto each record (as attributes that the
    formatters print), so a line is never without them while they are known."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        if request is not None:
            record.request_id = request.request_id
        deployment = current_deployment.get()
        if deployment is not None:
            record.deployment_id = deployment.deployment_id
            record.app = deployment.app
        elif (app := current_app.get()) is not None:
            record.app = app
        return True
