"""Global registry credentials (per registry host): stored for pulls and digest polls of every
app without its own, listed without their password, never answered with it."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from controller.errors import Conflict, NotFound, ValidationFailed
from controller.runtime.reference import parse
from controller.store.models import RegistryCredential


def registry_host(value: str) -> str:
    """A registry host as image references name it ("registry.example.com", "127.0.0.1:5000",
    or "docker.io")."""
    try:
        ref = parse(f"{value}/probe")
    except ValueError as exc:
        raise ValidationFailed(f"registry: '{value[:80]}' is not a registry host") from exc
    if ref.registry != value:
        raise ValidationFailed(f"registry: '{value[:80]}' is not a registry host")
    return value


async def add(registry: str, username: str, password: str) -> RegistryCredential:
    if not username or not password:
        raise ValidationFailed("username and password are required")
    try:
        return await RegistryCredential.create(
            registry=registry_host(registry), username=username, password=password
        )
    except IntegrityError as exc:
        raise Conflict(
            f"credentials for {registry} exist; delete them first", code="REGISTRY_EXISTS"
        ) from exc


async def remove(credential_id: int) -> None:
    if not await RegistryCredential.filter(id=credential_id).delete():
        raise NotFound(
            f"registry credentials {credential_id} do not exist", code="REGISTRY_NOT_FOUND"
        )


async def listed() -> list[RegistryCredential]:
    return await RegistryCredential.all().order_by("registry")
