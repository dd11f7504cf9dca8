"""The service templates database apps are created from, and the global registry credentials
image apps pull with."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.schemas.base import AnswerModel, Id, RequestModel, Timestamp, rule
from controller.apps import registries


class TemplateOut(AnswerModel):
    """One entry of the catalogue (`templateName`); env lists the variable names it sets."""

    name: str
    description: str
    image: str
    port: int
    data_dir: str
    user: str
    database: str
    env: list[str]
    health_check: str


class RegistryCreate(RequestModel):
    """Credentials for every image app of this registry host that has none of its own."""

    registry: Annotated[
        str,
        rule(registries.registry_host),
        Field(max_length=255, examples=["registry.example.com", "docker.io"]),
    ]
    username: Annotated[str, Field(min_length=1, max_length=255)]
    password: Annotated[str, Field(min_length=1, description="write-only: never answered")]


class RegistryRef(RequestModel):
    registry_id: Id


class RegistryOut(AnswerModel):
    id: int
    registry: str
    username: str
    created_at: Timestamp
