"""Registry credentials for an image: the app's own, else the global ones of its registry host
(both write-only). They travel to the daemon in the pull's auth header, never in a log."""

from __future__ import annotations

from typing import Any

from controller.runtime.engine import Engine
from controller.runtime.reference import ImageRef
from controller.store.models import App, RegistryCredential

Auth = dict[str, str]


async def credentials_for(app: App, ref: ImageRef) -> Auth | None:
    """The auth config of a pull of `ref` for `app`, or None (anonymous)."""
    if app.registry_username or app.registry_password:
        return {"username": app.registry_username, "password": app.registry_password}
    found = await RegistryCredential.get_or_none(registry=ref.registry)
    if found is None:
        return None
    return {"username": found.username, "password": found.password}


async def secrets_of(app: App) -> list[str]:
    """Registry passwords a deployment log of `app` must mask."""
    values = [app.registry_password] if app.registry_password else []
    stored = [credential.password for credential in await RegistryCredential.all()]  # opened
    return [value for value in [*values, *stored] if value]


async def remote_digest(engine: Engine, ref: ImageRef, auth: Auth | None) -> str:
    """The digest `ref` names in its registry now (the daemon asks it; nothing is pulled)."""

    def inspect(client: Any) -> str:
        answer = client.api.inspect_distribution(str(ref), auth_config=auth)
        return str(answer["Descriptor"]["digest"])

    return await engine.call(f"cannot read the digest of {ref}", inspect)
