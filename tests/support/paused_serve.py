"""`python -m tests.support.paused_serve --stage STAGE --seconds N serve --config PATH`: a real
`fogbank` whose deployments each wait N seconds after entering STAGE, so a crash test can kill
the controller while a deployment is in that stage (a local clone is too quick to hit by timing).

Fault injection lives here, in the test suite, and not in fogbank's settings: no config file or
environment variable of a production fogbank can turn it on."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from api import cli
from controller.deploy.progress import Tracker
from controller.store.models import Stage


def hold_deployments_in(stage: Stage, seconds: float) -> None:
    """Patch the one place every stage is entered (Tracker.enter) to wait in `stage`."""
    enter = Tracker.enter

    async def enter_then_hold(tracker: Tracker, *args: Any, **kwargs: Any) -> None:
        await enter(tracker, *args, **kwargs)
        if tracker.deployment.stage == stage:
            await asyncio.sleep(seconds)

    # A patch on purpose; the wrapper passes any signature of enter() through.
    Tracker.enter = enter_then_hold  # type: ignore[method-assign,assignment]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.paused_serve")
    parser.add_argument(
        "--stage", required=True, choices=[stage.value for stage in Stage if stage.value]
    )
    parser.add_argument("--seconds", required=True, type=float)
    parser.add_argument("fogbank_args", nargs=argparse.REMAINDER, help="the fogbank command")
    options = parser.parse_args(argv)
    hold_deployments_in(Stage(options.stage), options.seconds)
    return cli.main(options.fogbank_args)


if __name__ == "__main__":
    sys.exit(main())
