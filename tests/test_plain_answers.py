"""getByAppId and getAll built from plain row values (api/answers.py) give, byte for byte, the
answer their pydantic models give through quart-schema and Quart, on a real SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart, Response
from quart.testing import QuartClient
from quart_schema.conversion import convert_response_return_value, model_load
from quart_schema.validation import ResponseSchemaValidationError

from api.answers import app_rows, history_rows, listing
from api.app import create_app
from api.envelope import ok_body
from api.schemas.apps import AppOut, AppState
from api.schemas.base import Envelope
from api.schemas.deployments import DeploymentOut
from controller.config import Settings, StorageSettings
from controller.store.db import close_database, open_database
from controller.store.models import App, AppType, Deployment, Stage, Status, Trigger, UpdateOrder
from controller.upkeep.drift import AppState as DriftState
from controller.upkeep.drift import Health, Sync
from tests.support.api import assert_error
from tests.support.sealing import fresh_sealer

MOMENT = datetime(2025, 1, 15, 10, 30, 15, 123456, tzinfo=UTC)
pytestmark = pytest.mark.both_backends


@pytest.fixture
async def quart_app(tmp_path: Path, database_url: str) -> AsyncIterator[Quart]:
    await open_database(database_url, fresh_sealer())
    app = create_app(Settings(storage=StorageSettings(data_dir=tmp_path / "data")))
    try:
        yield app
    finally:
        await close_database()


async def modelled(app: Quart, answer: type[Any], items: list[Any], message: str) -> bytes:
    """What validate_response and Quart make of `items` (pydantic models) in the envelope."""
    model = model_load(ok_body(items, message), answer, ResponseSchemaValidationError)
    value = convert_response_return_value((model, 200))
    response = await app.make_response(value)
    assert isinstance(response, Response)
    return await body(response)


async def body(response: Response) -> bytes:
    data = await response.get_data(as_text=False)
    assert isinstance(data, bytes)
    return data


async def seed() -> list[App]:
    plain = await App.create(name="plain", git_repository="https://example.com/a.git")
    rich = await App.create(
        name="rich-ünïcode",
        app_type=AppType.SERVICE,
        git_repository="https://ci:s3cret@git.example.com/team/rich.git",
        git_credential="ci:s3cret",
        deploy_public_key="ssh-ed25519 AAAA rich",
        public_port=8081,
        memory_limit_mb=256,
        cpu_limit=0.5,
        update_order=UpdateOrder.STOP_FIRST,
        poll_interval_seconds=120,
        template_name="",
    )
    for number, (status, stage) in enumerate(
        [
            (Status.SUCCESS, Stage.COMPLETED),
            (Status.FAILED, Stage.BUILDING_IMAGE),
            (Status.PENDING, Stage.NONE),
            (Status.BUILDING, Stage.CLONING_REPO),
        ],
        start=1,
    ):
        await Deployment.create(
            app=rich,
            deployment_number=number,
            commit_hash=f"{number:040x}",
            commit_message='quote " backslash \\ newline\n ünïcode ✓ \u2028' if number == 2 else "",
            commit_author="Ada <ada@example.com>" if number != 3 else "",
            triggered_by=[Trigger.MANUAL, Trigger.WEBHOOK, Trigger.POLL, Trigger.ROLLBACK][
                number - 1
            ],
            status=status,
            stage=stage,
            progress=[100, 40, 0, 12][number - 1],
            error_message="docker build failed: exit 1" if status is Status.FAILED else "",
            image_tag=f"fogbank/rich:{number}" if number != 3 else "",
            container_id="c" * 64 if number == 1 else "",
            is_active=number == 1,
            rolled_back_from=1 if number == 4 else None,
            duration=42 if number <= 2 else None,
            started_at=MOMENT + timedelta(seconds=number) if number != 3 else None,
            finished_at=MOMENT + timedelta(minutes=number) if number <= 2 else None,
        )
    database = await App.create(
        name="db", app_type=AppType.DATABASE, image="127.0.0.1:5000/pg:16", template_name="postgres"
    )
    image = await App.create(
        name="pulled",
        image="registry.example.com/team/api:1.4",
        registry_username="robot",
        registry_password="hunter2-registry",
        volumes=[{"name": "uploads", "mount_path": "/data/uploads"}],
        health_command=["/bin/busybox", "wget", "-q", "http://127.0.0.1:3000/"],
        linked_database_id=database.id,
    )
    await Deployment.create(
        app=image,
        deployment_number=1,
        commit_hash="d" * 40,
        image_ref="registry.example.com/team/api:1.4",
        image_digest="sha256:" + "d" * 64,
        status=Status.SUCCESS,
        is_active=True,
    )
    return [plain, rich, database, image]


async def test_history_pages_are_byte_for_byte_the_models_answer(quart_app: Quart) -> None:
    _, rich, _, image = await seed()
    query = Deployment.filter(app_id=rich.id).order_by("-id")
    async with quart_app.app_context():
        fast = listing(await history_rows(rich.id, 50), "Deployments retrieved successfully")
        instances = [DeploymentOut.model_validate(d) for d in await query.limit(50)]
        slow = await modelled(
            quart_app,
            Envelope[list[DeploymentOut]],
            instances,
            "Deployments retrieved successfully",
        )
        assert await body(fast) == slow
        assert fast.mimetype == "application/json" and fast.status_code == 200
        assert slow.count(b'"deployment_number"') == 4
        older = listing(await history_rows(rich.id, 2, before=instances[1].id), "older")
        assert await body(older) == await modelled(
            quart_app, Envelope[list[DeploymentOut]], instances[2:], "older"
        )
        pulled = await Deployment.filter(app_id=image.id)
        assert await body(listing(await history_rows(image.id, 50), "image")) == await modelled(
            quart_app,
            Envelope[list[DeploymentOut]],
            [DeploymentOut.model_validate(pulled[0])],
            "image",
        )
        empty = listing(await history_rows(rich.id, 50, before=1), "none")
        assert await body(empty) == await modelled(
            quart_app, Envelope[list[DeploymentOut]], [], "none"
        )


async def test_every_app_is_byte_for_byte_the_models_answer(quart_app: Quart) -> None:
    plain, rich, database, image = await seed()
    seen = {
        plain.id: DriftState(),
        database.id: DriftState(),
        image.id: DriftState(),
        rich.id: DriftState(
            Sync.DRIFTED, Health.UNHEALTHY, "container gone", "2025-01-15T10:30:15Z"
        ),
    }
    async with quart_app.app_context():
        fast = listing(await app_rows(seen.__getitem__), "Apps retrieved successfully")
        states = []
        for app in await App.all().order_by("id"):
            state = seen[app.id]
            fields = AppOut.model_validate(app).model_dump()  # as getById builds it
            extra = {
                "sync": state.sync,
                "health": state.health,
                "sync_detail": state.detail,
                "checked_at": state.checked_at,
            }
            states.append(AppState.model_validate({**fields, **extra}))
        slow = await modelled(
            quart_app, Envelope[list[AppState]], states, "Apps retrieved successfully"
        )
    assert await body(fast) == slow
    assert b"s3cret" not in slow and b'"git_has_credentials":true' in slow
    assert b'"git_has_credentials":false' in slow
    assert b"hunter2" not in slow and b'"registry_password":"********"' in slow
    assert b'"docker_volume":"fogbank-pulled-uploads"' in slow  # the image app's volume
    assert b'"docker_volume":"fogbank-db-data"' in slow  # a database app's legacy data volume
    assert f'"link_database":{database.id}'.encode() in slow


@pytest.mark.slow
async def test_history_asks_whether_the_app_exists_only_for_an_empty_page(
    client: QuartClient, admin: dict[str, str]
) -> None:
    """getByAppId reads the page first: rows prove the app exists; an empty page of a missing
    app is still a 404 (with or without `before`), of an existing one an empty list."""
    app = await App.create(name="paged", git_repository="https://example.com/p.git")
    first = await Deployment.create(app=app, deployment_number=1, commit_hash="a" * 40)
    url = "/api/deployment/getByAppId"
    for body in ({"appId": app.id + 1}, {"appId": app.id + 1, "before": first.id + 10}):
        missing = await assert_error(await client.post(url, json=body, headers=admin), 404)
        assert missing["error"] == "APP_NOT_FOUND"
    for body, ids in (({"appId": app.id}, [first.id]), ({"appId": app.id, "before": first.id}, [])):
        response = await client.post(url, json=body, headers=admin)
        assert response.status_code == 200
        assert [row["id"] for row in (await response.get_json())["data"]] == ids
