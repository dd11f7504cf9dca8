"""The schema is created and upgraded at start, with no manual step."""

from __future__ import annotations

from pathlib import Path

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from controller.store.db import close_database, open_database, tortoise_config
from controller.store.models import App, Domain


async def test_an_older_database_is_upgraded_in_place(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'old.db'}"
    # A database as the first release left it: only the initial migration applied.
    await migrate(config=tortoise_config(url), target="models.0001_initial")
    connection = Tortoise.get_connection("default")
    await connection.execute_query(
        "INSERT INTO app (name, app_type, git_repository, git_branch, "
        "root_directory, dockerfile_path, port, health_check_path, health_timeout_seconds, "
        "auto_deploy, template_name, restart_policy, deployment_counter, created_at, updated_at) "
        "VALUES ('kept', 'web', 'https://e.com/r.git', 'main', '.', 'Dockerfile', 3000, '/', 30, "
        "1, '', 'unless-stopped', 0, '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
    )
    await Tortoise.close_connections()

    await open_database(url)
    try:
        app = await App.get(name="kept")
        assert app.stabilization_seconds == 10  # a column added by a later migration
        await Domain.create(app=app, hostname="kept.example.com")
        assert await Domain.all().count() == 1
    finally:
        await close_database()
    # Starting again is a no-op.
    await open_database(url)
    try:
        assert await App.all().count() == 1
    finally:
        await close_database()
