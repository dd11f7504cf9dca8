"""What a manual request deploys for an image or template app: the reference asked for, or the
app's own. Its digest is left to the pull, which names it (or fails there, with the registry's
reason, as a `failed` deployment)."""

from __future__ import annotations

from controller.deploy.queue import CommitRef, NewDeployment
from controller.errors import ValidationFailed
from controller.runtime.reference import parse
from controller.store.models import App, Trigger


def image_plan(
    app: App, trigger: Trigger, image: str | None, commit: CommitRef | None
) -> NewDeployment | None:
    """The deployment of an image app; None for an app built from its repository (which takes
    no image)."""
    if not app.image:
        if image is not None:
            raise ValidationFailed(
                f"image: app '{app.name}' builds from its repository; only image apps take one"
            )
        return None
    if commit is not None:
        raise ValidationFailed(
            f"commitHash: app '{app.name}' deploys an image; name a tag with image"
        )
    reference = image or app.image
    try:
        parse(reference)
    except ValueError as exc:
        raise ValidationFailed(f"image: {exc}") from exc
    return NewDeployment(app.id, CommitRef("", reference), trigger, image_ref=reference)
