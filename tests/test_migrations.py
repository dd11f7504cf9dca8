"""The schema is created and upgraded at start, with no manual step."""

from __future__ import annotations

from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.migrations.api import migrate

from controller.store.db import close_database, open_database, tortoise_config
from controller.store.models import App, Deployment, Domain, EnvVar
from controller.store.sealing import SealError
from tests.support.sealing import fresh_sealer

TOKEN = "ghp_0123456789abcdefSECRET"
WEBHOOK_SECRET = "whsec-plain-0123456789"
ENV_SECRET = "env-secret-value-42"


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

    sealer = fresh_sealer()
    await open_database(url, sealer)
    try:
        app = await App.get(name="kept")
        assert app.stabilization_seconds == 10  # a column added by a later migration
        await Domain.create(app=app, hostname="kept.example.com")
        assert await Domain.all().count() == 1
    finally:
        await close_database()
    # Starting again is a no-op.
    await open_database(url, sealer)
    try:
        assert await App.all().count() == 1
    finally:
        await close_database()


async def test_secrets_stored_in_plain_text_are_sealed_by_the_upgrade(tmp_path: Path) -> None:
    """A database from before sealing (0005) holds a token in the repository URL, a webhook
    secret and an env value in plain text: after the upgrade the file holds none of them, the
    URL column none of the credential, and the app reads them back. Another key is refused at
    start. Protection: the 0006 data step (without it the raw file holds all three)."""
    path = tmp_path / "plain.db"
    url = f"sqlite://{path}"
    await migrate(config=tortoise_config(url), target="models.0005_deployment_commit_index")
    connection = Tortoise.get_connection("default")
    await connection.execute_query(
        "INSERT INTO app (name, app_type, git_repository, git_branch, root_directory, "
        "dockerfile_path, port, health_check_path, health_timeout_seconds, auto_deploy, "
        "template_name, restart_policy, deployment_counter, webhook_secret, created_at, "
        "updated_at) VALUES ('old', 'web', ?, 'main', '.', 'Dockerfile', 3000, '/', 30, 1, '', "
        "'unless-stopped', 0, ?, '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
        [f"https://x-access-token:{TOKEN}@github.com/acme/web.git", WEBHOOK_SECRET],
    )
    await connection.execute_query(
        "INSERT INTO env_var (app_id, key, value, is_secret, is_build_arg, created_at, "
        "updated_at) VALUES (1, 'API_KEY', ?, 1, 0, '2025-01-01 00:00:00', "
        "'2025-01-01 00:00:00')",
        [ENV_SECRET],
    )
    await Tortoise.close_connections()

    sealer = fresh_sealer()
    await open_database(url, sealer)
    try:
        app = await App.get(name="old")
        env = await EnvVar.get(key="API_KEY")
        await connection_checkpoint()
    finally:
        await close_database()
    assert app.git_repository == "https://github.com/acme/web.git"
    assert '"x-access-token"' in app.git_credential and TOKEN in app.git_credential
    assert app.webhook_secret == WEBHOOK_SECRET
    assert env.value == ENV_SECRET
    raw = every_byte(tmp_path)
    for plain in (TOKEN, WEBHOOK_SECRET, ENV_SECRET, "x-access-token"):
        assert plain.encode() not in raw

    with pytest.raises(SealError, match=r"security\.key_file"):
        await open_database(url, fresh_sealer())


async def test_images_and_volumes_keep_the_rows_before_them(tmp_path: Path) -> None:
    """0009 adds image and volume columns: earlier rows keep their values and every index of the
    deployment table (SQLite would lose them if a column were altered, which rebuilds the
    table), and older apps read as having no image, no volumes and no link."""
    url = f"sqlite://{tmp_path / 'before-images.db'}"
    await migrate(config=tortoise_config(url), target="models.0005_deployment_commit_index")
    connection = Tortoise.get_connection("default")
    await connection.execute_query(
        "INSERT INTO app (name, app_type, git_repository, git_branch, root_directory, "
        "dockerfile_path, port, health_check_path, health_timeout_seconds, auto_deploy, "
        "template_name, restart_policy, deployment_counter, created_at, updated_at) "
        "VALUES ('olddb', 'database', 'https://e.com/r.git', 'main', '.', 'Dockerfile', 5432, "
        "'/', 30, 1, '', 'unless-stopped', 1, '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
    )
    await connection.execute_query(
        "INSERT INTO deployment (app_id, deployment_number, commit_hash, commit_message, "
        "commit_author, triggered_by, status, stage, progress, error_message, image_tag, "
        "container_id, is_active, created_at, updated_at) VALUES (1, 1, ?, 'm', 'a', 'manual', "
        "'success', 'completed', 100, '', 'fogbank/olddb:1', 'c1', 1, '2025-01-01 00:00:00', "
        "'2025-01-01 00:00:00')",
        ["a" * 40],
    )
    await Tortoise.close_connections()

    await open_database(url, fresh_sealer())
    try:
        app = await App.get(name="olddb")
        assert (app.image, app.volumes, app.health_command, app.linked_database_id) == (
            "",
            [],
            [],
            None,
        )
        old = await Deployment.get(app_id=app.id)
        assert (old.commit_hash, old.image_ref, old.image_digest) == ("a" * 40, "", "")
        digest = "sha256:" + "b" * 64
        await Deployment.create(
            app_id=app.id, deployment_number=2, commit_hash="b" * 40, image_digest=digest
        )
        assert await Deployment.filter(image_digest=digest).count() == 1
        with pytest.raises(IntegrityError):  # unique (app, deployment_number) still holds
            await Deployment.create(app_id=app.id, deployment_number=2, commit_hash="c" * 40)
        indexes = await Tortoise.get_connection("default").execute_query_dict(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'deployment' AND type = 'index'"
        )
        columns = {str(row["sql"]).split("ON")[1].strip() for row in indexes if row["sql"]}
        assert columns >= {
            '"deployment" ("status")',
            '"deployment" ("app_id", "id")',
            '"deployment" ("app_id", "commit_hash")',
            '"deployment" ("is_active", "app_id")',
        }
    finally:
        await close_database()


async def connection_checkpoint() -> None:
    """Move the WAL into the main file, so the raw bytes checked are the database's own."""
    await Tortoise.get_connection("default").execute_query("PRAGMA wal_checkpoint(TRUNCATE)")


def every_byte(directory: Path) -> bytes:
    """The database, its WAL and every other file in `directory`, as the disk holds them."""
    return b"".join(path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file())
