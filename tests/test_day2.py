"""Day-2 operations: app containers carry Docker's log cap, app event logs stay bounded, and
`fogbank backup` taken while a deployment runs (and rows keep being written) restores into a
copy that opens and holds every row committed before the backup began."""

from __future__ import annotations

import asyncio
import sqlite3
import tarfile
import threading
import uuid
from pathlib import Path

import docker
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from api.app import create_app
from controller.config import RuntimeSettings, SecuritySettings, Settings, StorageSettings
from controller.errors import FogbankError
from controller.events.app_events import AppEvents
from controller.store import backup as archive
from controller.store import datadir
from controller.store.db import close_database, open_database
from controller.store.models import App, Deployment, EnvVar, Status
from controller.store.sealing import SealError
from tests.support.api import add_deployment, create_web_app, signup_admin, wait_terminal
from tests.support.ports import free_port
from tests.support.repos import GitRepo
from tests.support.server import Server, cli, wait_until
from tests.test_server_process import SLOW_DOCKERFILE


def test_app_event_logs_are_bounded(tmp_path: Path) -> None:
    events = AppEvents(tmp_path, max_bytes=2_000)
    for number in range(500):
        events.record("shop", f"drift repaired, round {number}")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["shop.log", "shop.log.1"]
    assert sum((tmp_path / name).stat().st_size for name in files) < 2 * 2_000 + 200
    recent = events.recent("shop", 3)
    assert [line.rsplit(" ", 1)[1] for line in recent] == ["497", "498", "499"]
    assert len(events.recent("shop", 60)) == 60  # reaches into the rotated file
    events.delete("shop")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
async def test_app_containers_have_a_log_cap(
    settings: Settings, web_repo: GitRepo, app_name: str, docker_client: docker.DockerClient
) -> None:
    runtime = RuntimeSettings(log_max_size="5m", log_max_files=2)
    capped = settings.model_copy(update={"runtime": runtime})
    quart_app: Quart = create_app(capped)
    async with quart_app.test_app():
        client = QuartClient(quart_app)
        admin = await signup_admin(client)
        created = await create_web_app(client, admin, app_name, web_repo)
        deployed = await add_deployment(client, admin, created["id"])
        assert (await wait_terminal(quart_app, deployed["id"])).status is Status.SUCCESS
    (container,) = docker_client.containers.list(filters={"label": f"fogbank.app={app_name}"})
    log_config = container.attrs["HostConfig"]["LogConfig"]
    print("docker inspect .HostConfig.LogConfig:", log_config)
    assert log_config == {"Type": "json-file", "Config": {"max-file": "2", "max-size": "5m"}}


def counts(database: Path) -> dict[str, int]:
    connection = sqlite3.connect(database)
    try:
        return {
            table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
            for table in ("app", "deployment", "env_var")
        }
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_backup_taken_while_a_deployment_runs_restores_every_committed_row(
    tmp_path: Path, web_repo: GitRepo, app_name: str
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nport = {port}\n[storage]\ndata_dir = "{data_dir}"\n'
        f"[git]\nallow_local = true\n[edge]\nhttp_port = {free_port()}\n"
    )
    admin = ["--username", "admin", "--role", "admin", "--password-stdin"]
    cli("user", "create", *admin, config=config, stdin="a long password\n")
    server = Server(config, port, tmp_path / "server.log")
    server.token = cli("token", "create", "--username", "admin", "--name", "t", config=config)
    written: list[int] = []  # env var ids the API acknowledged, in order
    stop = threading.Event()

    def keep_writing(app_id: int) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {server.token}"}) as http:
            while not stop.is_set():
                answer = http.post(
                    f"{server.base}/api/apps/envs/create",
                    json={"appId": app_id, "key": f"K_{uuid.uuid4().hex[:8]}", "value": "v"},
                    timeout=30,
                )
                assert answer.status_code == 201, answer.text
                written.append(answer.json()["data"]["id"])

    try:
        server.start()
        app = server.call(
            "POST", "/api/apps/create", {"name": app_name, "gitRepository": web_repo.url}
        )["data"]
        slow = SLOW_DOCKERFILE.replace('"sleep", "5"', '"sleep", "20"')
        web_repo.commit("slow", {"Dockerfile": slow, "nonce": uuid.uuid4().hex})
        running = server.call("POST", "/api/deployment/add", {"appId": app["id"]})
        writer = threading.Thread(target=keep_writing, args=(app["id"],))
        writer.start()
        try:
            wait_until(lambda: len(written) > 20 or None, 30, "rows being written")
            stage = {d["id"]: d for d in server.deployments(app["id"])}[running["id"]]["stage"]
            committed = list(written)  # acknowledged, so committed, before the backup began
            before = counts(data_dir / "fogbank.db")
            target = tmp_path / "backups" / "fogbank.tar.gz"
            output = cli("backup", str(target), config=config)
            deployment_status = {d["id"]: d for d in server.deployments(app["id"])}
        finally:
            stop.set()
            writer.join(60)
        assert deployment_status[running["id"]]["status"] in ("building", "pending")
        print(f"backup taken in stage {stage!r} while env vars were being created:\n{output}")
    finally:
        stop.set()
        server.stop_quietly()

    assert target.stat().st_mode & 0o777 == 0o600
    with tarfile.open(target) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "fogbank.db", "secrets.key"} <= names
    assert any(name.startswith("logs/deployments/") for name in names)

    copy_dir = tmp_path / "restored"
    copy_config = tmp_path / "restored.toml"
    copy_config.write_text(f'[storage]\ndata_dir = "{copy_dir}"\n')
    print(cli("restore", str(target), config=copy_config))
    restored_db = copy_dir / "fogbank.db"
    after = counts(restored_db)
    print(f"rows when the backup began: {before}; rows in the restored copy: {after}")
    assert all(after[table] >= before[table] for table in before)
    assert (copy_dir / "logs" / "deployments" / f"{running['id']}.log").is_file()

    # The copy opens in fogbank itself (migrations, models) and holds every committed row.
    copied = Settings(storage=StorageSettings(data_dir=copy_dir))
    await open_database(copied.database_url, datadir.prepare(copied))
    try:
        # Loading them opens their sealed values: the restored key is the one they need.
        present = {env.id for env in await EnvVar.filter(id__in=committed) if env.value == "v"}
        assert present == set(committed), f"{len(set(committed) - present)} committed rows lost"
        assert await Deployment.filter(id=running["id"]).exists()
    finally:
        await close_database()

    # Restoring over an existing database needs --force; a damaged archive is refused whole.
    with pytest.raises(FogbankError, match="--force"):
        await asyncio.to_thread(archive.restore, copied, target)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(target.read_bytes()[:-200])
    with pytest.raises(FogbankError, match=r"cannot read the backup|damaged"):
        await asyncio.to_thread(archive.restore, copied, broken, force=True)
    assert counts(restored_db) == after


async def test_backup_and_restore_carry_the_key_of_security_key_file(tmp_path: Path) -> None:
    """The key lives where security.key_file says (outside the data directory here): the backup
    takes it from there and restore puts it where the copy's settings look, so the restored
    sealed values open; without it they do not (the protection this test guards)."""

    def host(name: str) -> Settings:
        return Settings(
            storage=StorageSettings(data_dir=tmp_path / name / "data"),
            security=SecuritySettings(key_file=str(tmp_path / name / "keys" / "fogbank.key")),
        )

    original, copy, keyless = host("original"), host("copy"), host("keyless")
    await open_database(original.database_url, datadir.prepare(original))
    try:
        app = await App.create(name="sealed", git_repository="https://example.com/a.git")
        await EnvVar.create(app=app, key="TOKEN", value="s3cret", is_secret=True)
    finally:
        await close_database()
    assert original.key_file.is_file() and not (original.storage.data_dir / "secret.key").exists()
    target = tmp_path / "fogbank.tar.gz"
    await asyncio.to_thread(archive.backup, original, target)

    await asyncio.to_thread(archive.restore, copy, target)
    assert copy.key_file.read_bytes() == original.key_file.read_bytes()
    assert copy.key_file.stat().st_mode & 0o777 == 0o600
    await open_database(copy.database_url, datadir.prepare(copy))
    try:
        assert [env.value for env in await EnvVar.filter(key="TOKEN")] == ["s3cret"]
    finally:
        await close_database()

    # Without that key (a copy that made a new one) the database refuses to open.
    await asyncio.to_thread(archive.restore, keyless, target)
    keyless.key_file.unlink()
    with pytest.raises(SealError, match=r"security\.key_file"):
        await open_database(keyless.database_url, datadir.prepare(keyless))
    await close_database()
