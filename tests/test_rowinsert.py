"""insert_rows against a real SQLite database: the rows it writes are the rows Model.create
writes, and a value Tortoise would refuse is refused before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.exceptions import ValidationError
from tortoise.transactions import in_transaction

from controller.store.bulk import insert_rows
from controller.store.models import App, Deployment, Trigger, WebhookDelivery

SHA = "b" * 40
NOT_COMPARED = {"id", "created_at", "updated_at"}


def columns(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in NOT_COMPARED}


async def test_rows_match_what_model_create_writes(db: None) -> None:
    app = await App.create(name="one")
    before = datetime.now(UTC)
    created = await Deployment.create(
        app_id=app.id,
        deployment_number=1,
        commit_hash=SHA,
        commit_message="ünïcode message\nsecond line",
        commit_author="Ada",
        triggered_by=Trigger.WEBHOOK,
    )
    await insert_rows(
        Deployment,
        [
            {
                "app_id": app.id,
                "deployment_number": number,
                "commit_hash": SHA,
                "commit_message": "ünïcode message\nsecond line",
                "commit_author": "Ada",
            }
            for number in (2, 3)
        ],
        triggered_by=Trigger.WEBHOOK,
    )
    rows = await Deployment.filter(app_id=app.id).order_by("deployment_number").values()
    assert [row["deployment_number"] for row in rows] == [1, 2, 3]
    reference = columns(rows[0])
    for row in rows[1:]:
        assert columns(row) == {**reference, "deployment_number": row["deployment_number"]}
        for stamp in ("created_at", "updated_at"):
            assert row[stamp].tzinfo is not None
            assert before - timedelta(seconds=1) <= row[stamp] <= datetime.now(UTC)
    assert rows[1]["id"] > created.id
    assert rows[1]["status"] == "pending" and rows[1]["triggered_by"] == "webhook"


async def test_a_row_may_leave_out_a_field_that_shared_gives(db: None) -> None:
    app = await App.create(name="one")
    await insert_rows(
        Deployment,
        [{"deployment_number": 1}, {"deployment_number": 2, "app_id": app.id}],
        app_id=app.id,
        commit_hash=SHA,
    )
    rows = (
        await Deployment.filter(app_id=app.id)
        .order_by("deployment_number")
        .values_list("deployment_number", "commit_hash")
    )
    assert rows == [(1, SHA), (2, SHA)]


async def test_a_refused_value_writes_no_row_of_the_call(db: None) -> None:
    app = await App.create(name="one")
    good = {"app_id": app.id, "deployment_number": 1, "commit_hash": SHA}
    too_long = {"app_id": app.id, "deployment_number": 2, "commit_author": "x" * 513}
    with pytest.raises(ValidationError, match="commit_author"):
        await insert_rows(Deployment, [good, too_long])
    assert await Deployment.all().count() == 0


async def test_required_and_unknown_fields_are_refused(db: None) -> None:
    app = await App.create(name="one")
    with pytest.raises(ValidationError, match="deployment_number is required"):
        await insert_rows(Deployment, [{"app_id": app.id}])
    with pytest.raises(ValidationError, match="no insertable field"):
        await insert_rows(Deployment, [{"app_id": app.id, "deployment_number": 1, "colour": 1}])
    assert await Deployment.all().count() == 0


async def test_rows_are_part_of_the_callers_transaction(db: None) -> None:
    record = {"delivery_id": "d-1", "event": "push", "status_code": 200, "response": "{}"}
    with pytest.raises(RuntimeError, match="after the insert"):
        async with in_transaction():
            await insert_rows(WebhookDelivery, [record])
            assert await WebhookDelivery.filter(delivery_id="d-1").exists()
            raise RuntimeError("after the insert")
    assert not await WebhookDelivery.filter(delivery_id="d-1").exists()
    await insert_rows(WebhookDelivery, [])  # nothing to write is not an error
    await insert_rows(WebhookDelivery, [record])
    assert await WebhookDelivery.filter(delivery_id="d-1").count() == 1
