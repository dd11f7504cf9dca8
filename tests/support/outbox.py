"""The reporting parts alone, on a real SQLite database and a local fake remote
(tests/support/fake_remote.py): Notices writing rows, a running Courier sending them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.config import GithubSettings, NotifySettings, Settings, StorageSettings
from controller.events.app_events import AppEvents
from controller.notify.courier import Courier
from controller.notify.manage import Reporting
from controller.notify.notices import Notices
from controller.store.db import close_database, open_database
from controller.telemetry.metrics import Metrics
from tests.support.sealing import fresh_sealer

TOKEN = "ghp_fogbank_tests_token"


def reporting_settings(tmp_path: Path, api_url: str, **notify: Any) -> Settings:
    return Settings(
        storage=StorageSettings(data_dir=tmp_path / "data"),
        github=GithubSettings(api_url=api_url, token=TOKEN, request_interval_seconds=0),
        notify=NotifySettings(**{"retry_base_seconds": 0.2, "timeout_seconds": 5, **notify}),
    )


@dataclass
class Parts:
    settings: Settings
    notices: Notices
    courier: Courier
    reporting: Reporting
    events: AppEvents
    metrics: Metrics


def make_parts(settings: Settings) -> Parts:
    metrics = Metrics()
    events = AppEvents(settings.logs_dir / "apps")
    notices = Notices(settings)
    courier = Courier(settings, metrics, events)
    notices.wake = courier.wake
    return Parts(settings, notices, courier, Reporting(notices, courier), events, metrics)


@asynccontextmanager
async def running_parts(settings: Settings) -> AsyncIterator[Parts]:
    """The database open and a courier delivering; both closed afterwards."""
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    await open_database(f"sqlite://{settings.storage.data_dir / 'fogbank.db'}", fresh_sealer())
    parts = make_parts(settings)
    try:
        await parts.notices.reload()
        parts.courier.start()
        yield parts
    finally:
        await parts.courier.stop(5)
        await close_database()
