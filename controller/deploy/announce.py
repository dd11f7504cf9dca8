"""What an app's watchers hear when its deployments are requested, whatever asked (a button, a
webhook, polling, a rollback): the dashboard's app page keeps its list live with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from controller.deploy.queue import Enqueued
from controller.events.bus import Event, EventBus
from controller.store.models import Trigger


class Requested(Protocol):
    @property
    def trigger(self) -> Trigger: ...


def requested_event(deployment_id: int, app_id: int, number: int, trigger: Trigger) -> Event:
    """The frame of one requested deployment."""
    return Event(
        "deployment",
        {
            "deployment_id": deployment_id,
            "app_id": app_id,
            "deployment_number": number,
            "triggered_by": str(trigger),
        },
    )


def announce_requested(
    bus: EventBus, wanted: Sequence[Requested], outcomes: Sequence[object]
) -> None:
    """Tell each app's watchers of every deployment the door created for it."""
    for request, outcome in zip(wanted, outcomes, strict=True):
        if isinstance(outcome, Enqueued):
            event = requested_event(
                outcome.id, outcome.app_id, outcome.deployment_number, request.trigger
            )
            bus.publish_app(outcome.app_id, event)
