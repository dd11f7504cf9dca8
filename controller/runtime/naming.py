"""Names and labels fogbank gives Docker objects, in this one place; the labels are how it
finds its own objects (and only those of the apps in its database)."""

from __future__ import annotations

from controller.store.models import App, Deployment

APP_LABEL = "fogbank.app"
DEPLOYMENT_LABEL = "fogbank.deployment"
COMMIT_LABEL = "fogbank.commit"


def image_tag(app: App, deployment: Deployment) -> str:
    return image_tag_of(app.name, deployment.id)


def image_tag_of(app_name: str, deployment_id: int) -> str:
    return f"fogbank/{app_name}:{deployment_id}"


def container_name(app: App, deployment: Deployment) -> str:
    return f"fogbank-{app.name}-{deployment.id}"


def labels(app: App, deployment: Deployment) -> dict[str, str]:
    return {
        APP_LABEL: app.name,
        DEPLOYMENT_LABEL: str(deployment.id),
        COMMIT_LABEL: deployment.commit_hash,
    }


def app_labels(app_name: str) -> dict[str, str]:
    """The label filter of every object of one app."""
    return {APP_LABEL: app_name}


def deployment_of(object_labels: dict[str, str]) -> int:
    """The deployment id a labelled object belongs to (0 when it carries none)."""
    value = object_labels.get(DEPLOYMENT_LABEL, "")
    return int(value) if value.isdigit() else 0


def volume_name(app_name: str, volume: str) -> str:
    """The Docker volume behind an app's volume `volume` (kept across deploys; a new app of the
    same name finds it again)."""
    return f"fogbank-{app_name}-{volume}"


def data_volume(app: App) -> str:
    return volume_name(app.name, "data")


def app_network(app_name: str) -> str:
    """The app's own Docker network (labelled with app_labels)."""
    return f"fogbank-net-{app_name}"


def database_network(app_name: str) -> str:
    """The network a database app's containers join (under the app's name) and its linked apps
    reach it on (a prefix of its own: no app's own network can have its name)."""
    return f"fogbank-db-{app_name}"
