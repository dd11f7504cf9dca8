"""Names and labels fogbank gives Docker objects; the labels are how it finds its own."""

from __future__ import annotations

from controller.store.models import App, Deployment


def image_tag(app: App, deployment: Deployment) -> str:
    return f"fogbank/{app.name}:{deployment.id}"


def container_name(app: App, deployment: Deployment) -> str:
    return f"fogbank-{app.name}-{deployment.id}"


def labels(app: App, deployment: Deployment) -> dict[str, str]:
    return {
        "fogbank.app": app.name,
        "fogbank.deployment": str(deployment.id),
        "fogbank.commit": deployment.commit_hash,
    }


def data_volume(app: App) -> str:
    return f"fogbank-{app.name}-data"
