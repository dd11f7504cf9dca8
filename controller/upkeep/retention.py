"""Retention: images beyond controller.keep_images, deployment history beyond
history.keep_deployments (with its logs), webhook deliveries beyond their count. The leader
prunes; every instance then removes its own log files of deployments no longer kept."""

from __future__ import annotations

import asyncio
import logging

from controller.config import Settings
from controller.errors import FogbankError
from controller.events.deployment_logs import DeploymentLogs
from controller.notify import outbox
from controller.runtime.engine import Engine
from controller.runtime.images import prune_images
from controller.store.models import TERMINAL, App, Deployment, WebhookDelivery

log = logging.getLogger(__name__)


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


async def prune_all(engine: Engine, logs: DeploymentLogs, settings: Settings) -> None:
    """Images, deployment history (with its logs), webhook deliveries and sent notices beyond
    what settings keep."""
    history = settings.history
    for app in await App.all():
        try:
            await prune_images(engine, app, settings.controller.keep_images)
        except FogbankError as exc:
            log.error("retention for %s failed: %s", app.name, exc.message)
        for deployment_id in await prune_history(app, history.keep_deployments):
            logs.delete(deployment_id)
    await prune_deliveries(history.keep_webhook_deliveries)
    await outbox.prune(settings.notify.keep_days)


async def prune_orphan_logs(logs: DeploymentLogs) -> None:
    """Remove this instance's log files of deployments the database no longer has (the leader
    pruned them; with several instances, it could only delete its own files)."""
    stored = await asyncio.to_thread(logs.stored_ids)
    if not stored:
        return
    found = await Deployment.filter(id__in=stored).values_list("id", flat=True)
    kept = {int(str(deployment_id)) for deployment_id in found}
    gone = [deployment_id for deployment_id in stored if deployment_id not in kept]
    for deployment_id in gone:
        logs.delete(deployment_id)
    if gone:
        log.info("retention: removed %d log file(s) of deployments no longer kept", len(gone))
