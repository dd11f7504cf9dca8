"""Database lifecycle: connect, bring the schema up to date with the bundled migrations, close."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate
from tortoise.models import Model

from controller.store import models, sealing

MODELS_MODULE = "controller.store.models"
REPORTING_MODULE = "controller.store.reporting"  # the outbox and what it reports to
CLUSTER_MODULE = "controller.store.cluster"  # instance leases
MIGRATIONS_MODULE = "controller.store.migrations"
KEY_CHECK_ROWS = 20


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config for fogbank's single app of models."""
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": [MODELS_MODULE, REPORTING_MODULE, CLUSTER_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def open_database(database_url: str, sealer: sealing.Sealer) -> None:
    """Connect and apply every pending migration, so a new or older database just works.
    `sealer` seals and opens secret columns (the migrations seal values stored in plain text);
    a key that does not open what the database holds is refused here, at start."""
    sealing.install(sealer)
    config = tortoise_config(database_url)
    await migrate(config=config)
    # Requests, workers and the scheduler run in tasks other than the one that starts the
    # server, so the ORM context must be the process-wide fallback, not only a contextvar.
    await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        await _check_key()
    except BaseException:
        await Tortoise.close_connections()
        raise


async def _check_key() -> None:
    """Open stored values of every sealed column: a replaced key fails now, not later."""
    for model in vars(models).values():
        if not (isinstance(model, type) and issubclass(model, Model) and model is not Model):
            continue
        for name, field in model._meta.fields_map.items():
            if isinstance(field, sealing.SealedTextField):
                await model.all().order_by("id").limit(KEY_CHECK_ROWS).values_list(name, flat=True)


def shared_database() -> bool:
    """True on PostgreSQL: other instances may share the database (on SQLite, never)."""
    return bool(connections.get("default").capabilities.dialect == "postgres")


async def close_database() -> None:
    await Tortoise.close_connections()


async def ping_database() -> None:
    """Raise when the database does not answer a trivial query."""
    await Tortoise.get_connection("default").execute_query("SELECT 1")
