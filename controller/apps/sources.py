"""What apps that are not built from a repository need from the controller's face: the service
template catalogue, the connection info of database apps, global registry credentials (the
API reaches them as `Controller.sources`), and whether the runtime backend can run such apps."""

from __future__ import annotations

from typing import Any

from controller.apps import database, registries
from controller.apps.templates import Catalogue, Template
from controller.errors import ValidationFailed
from controller.store.models import App, RegistryCredential

# What Docker Swarm here has no form for yet: it pulls no image refs (it runs the images
# fogbank built and pushed) and has no volumes or database networks.
NOT_ON_SWARM = {
    "image": "image apps",
    "template_name": "template apps",
    "volumes": "volumes",
    "link_database": "database links",
}
CAMEL = {"template_name": "templateName", "link_database": "linkDatabase"}


class Sources:
    def __init__(self, catalogue: Catalogue, backend: str = "docker") -> None:
        self.catalogue = catalogue
        self.backend = backend

    @classmethod
    def load(cls, catalogue_file: str, backend: str = "docker") -> Sources:
        """With the packaged templates and those of `catalogue_file` ("" for none)."""
        return cls(Catalogue.load(catalogue_file), backend)

    def check_backend(self, fields: dict[str, Any]) -> None:
        """Refuse, before anything is stored, what `runtime.backend` cannot run."""
        if self.backend != "swarm":
            return
        for field, what in NOT_ON_SWARM.items():
            if fields.get(field):
                raise ValidationFailed(
                    f"{CAMEL.get(field, field)}: {what} do not run on Swarm yet (runtime.backend"
                    " = swarm pulls no image references and has no volumes or database networks)",
                    code="NOT_ON_SWARM",
                )

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
