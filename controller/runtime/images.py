"""Image retention: keep the newest images of each app (and always the active one) for
rollback; a deployment that never became active keeps none."""

from __future__ import annotations

import logging

from controller.errors import FogbankError
from controller.runtime.engine import Engine
from controller.runtime.naming import app_labels, deployment_of, image_tag_of
from controller.store.models import App, Deployment

log = logging.getLogger(__name__)


async def prune_images(engine: Engine, app: App, keep: int) -> list[str]:
    """Remove this app's images beyond the newest `keep`; returns the removed references."""
    active_ids = {d.id for d in await Deployment.filter(app_id=app.id, is_active=True)}
    await engine.prune_dangling(app_labels(app.name))
    images = await engine.images(app_labels(app.name))
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


async def discard_image(engine: Engine, deployment: Deployment) -> None:
    """A deployment that never became active keeps no image (its own tag only: a rollback's
    tag shares the image of its target, which stays)."""
    app = await App.get_or_none(id=deployment.app_id)
    if app is None:
        return
    tag = image_tag_of(app.name, deployment.id)
    if await engine.image_exists(tag):
        await engine.remove_image(tag)
