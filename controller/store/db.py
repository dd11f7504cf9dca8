"""Database lifecycle: connect, bring the schema up to date with the bundled migrations, close."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate

MODELS_MODULE = "controller.store.models"
MIGRATIONS_MODULE = "controller.store.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config for fogbank's single app of models."""
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def open_database(database_url: str) -> None:
    """Connect and apply every pending migration, so a new or older database just works."""
    config = tortoise_config(database_url)
    await migrate(config=config)
    # Requests, workers and the scheduler run in tasks other than the one that starts the
    # server, so the ORM context must be the process-wide fallback, not only a contextvar.
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def close_database() -> None:
    await Tortoise.close_connections()
