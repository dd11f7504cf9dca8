"""Retention: keep the newest images of each app (and always the active one) for rollback."""

from __future__ import annotations

import logging

from controller.errors import FogbankError
from controller.runtime.engine import Engine
from controller.store.models import TERMINAL, App, Deployment, WebhookDelivery

log = logging.getLogger(__name__)


async def prune_images(engine: Engine, app: App, keep: int) -> list[str]:
    """Remove this app's images beyond the newest `keep`; returns the removed references."""
    active_ids = {d.id for d in await Deployment.filter(app_id=app.id, is_active=True)}
    await engine.prune_dangling({"fogbank.app": app.name})
    images = await engine.images({"fogbank.app": app.name})

    def deployment_of(labels: dict[str, str]) -> int:
        value = labels.get("fogbank.deployment", "")
        return int(value) if value.isdigit() else 0

    images.sort(key=lambda image: deployment_of(image[2]), reverse=True)
    removed: list[str] = []
    for image_id, tags, image_labels in images[keep:]:
        if deployment_of(image_labels) in active_ids:
            continue
        try:
            await engine.remove_image(image_id)
        except FogbankError as exc:
            # An image still used by a container is kept; the next deployment retries.
            log.warning("could not prune image %s of %s: %s", tags or image_id, app.name, exc)
        else:
            removed.append(tags[0] if tags else image_id)
    return removed


async def prune_history(app: App, keep: int) -> list[int]:
    """Delete finished deployments beyond the newest `keep` of the app (never the active one);
    returns their ids so their log files can go too."""
    newest = await Deployment.filter(app_id=app.id).order_by("-id").offset(keep).only("id")
    doomed = [
        d.id
        for d in await Deployment.filter(
            app_id=app.id, id__lte=newest[0].id if newest else 0, status__in=TERMINAL
        )
        .exclude(is_active=True)
        .only("id")
    ]
    if doomed:
        await Deployment.filter(id__in=doomed).delete()
    return doomed


async def prune_deliveries(keep: int) -> int:
    """Forget webhook deliveries beyond the newest `keep`."""
    cutoff = await WebhookDelivery.all().order_by("-id").offset(keep).first()
    if cutoff is None:
        return 0
    return await WebhookDelivery.filter(id__lte=cutoff.id).delete()


async def discard_image(engine: Engine, deployment: Deployment) -> None:
    """A deployment that never became active keeps no image (its own tag only: a rollback's
    tag shares the image of its target, which stays)."""
    app = await App.get_or_none(id=deployment.app_id)
    if app is None:
        return
    tag = f"fogbank/{app.name}:{deployment.id}"
    if await engine.image_exists(tag):
        await engine.remove_image(tag)
