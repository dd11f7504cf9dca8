"""What apps that are not built from a repository need from the controller's face: the service
template catalogue, the connection info of database apps, and global registry credentials (the
API reaches them as `Controller.sources`)."""

from __future__ import annotations

from typing import Any

from controller.apps import database, registries
from controller.apps.templates import Catalogue, Template
from controller.store.models import App, RegistryCredential


class Sources:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    @classmethod
    def load(cls, catalogue_file: str) -> Sources:
        """With the packaged templates and those of `catalogue_file` ("" for none)."""
        return cls(Catalogue.load(catalogue_file))

    def templates(self) -> list[Template]:
        return self.catalogue.all()

    async def connection_info(self, app: App) -> dict[str, Any]:
        """How to reach a database app (the password masked)."""
        return await database.connection_info(app, self.catalogue)

    async def add_registry(self, registry: str, username: str, password: str) -> RegistryCredential:
        """Global credentials for a registry host (the password is write-only)."""
        return await registries.add(registry, username, password)

    async def registries(self) -> list[RegistryCredential]:
        return await registries.listed()

    async def remove_registry(self, credential_id: int) -> None:
        await registries.remove(credential_id)
