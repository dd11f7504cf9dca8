"""The database backends tests run against (a pytest plugin, loaded by conftest.py).

A module marked `pytestmark = pytest.mark.both_backends` runs each test that asks for
`database_url` (or `settings`) twice: on SQLite in the test's tmp dir and on a fresh database of
a throwaway PostgreSQL cluster started once per session. Other tests get SQLite. With
FOGBANK_TEST_REQUIRE_POSTGRES=1 (scripts/test sets it) a missing PostgreSQL is a failure, not a
skip."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from controller.store.db import close_database, open_database
from tests.support.migrated import migrated_sqlite
from tests.support.postgres import PostgresCluster, PostgresMissing, start_cluster
from tests.support.sealing import fresh_sealer

REQUIRE_POSTGRES = os.environ.get("FOGBANK_TEST_REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_backends: run the module's database tests on SQLite and on PostgreSQL",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_backends"
    ):
        metafunc.parametrize("db_backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the session, stopped and removed at its end."""
    cluster = cluster_or_stop(REQUIRE_POSTGRES)
    try:
        # Every migration runs once, here, into the database each test's copy starts from: a
        # copy takes a fraction of a second, running the migrations takes seconds.
        template = cluster.create_database()
        EXECUTOR_CACHE.clear()
        asyncio.run(_migrate(template))
        cluster.template = template.rsplit("/", 1)[1]
        yield cluster
    finally:
        cluster.stop()


def cluster_or_stop(required: bool) -> PostgresCluster:
    """A started cluster; without PostgreSQL installed, fail when `required`, else skip."""
    try:
        return start_cluster()
    except PostgresMissing as exc:
        if required:
            pytest.fail(f"{exc} (FOGBANK_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with every migration applied, made once per session: a test's database
    starts as a copy of it (a copy takes a millisecond, the migrations a second or more)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "fogbank.db"
    EXECUTOR_CACHE.clear()
    asyncio.run(_migrate(f"sqlite://{path}"))
    leftovers = sorted(p.name for p in path.parent.iterdir() if p != path)
    assert leftovers == [], f"the closed template left {leftovers} (a WAL not checkpointed?)"
    return path


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """sqlite, or the backend this test was parametrized with (both_backends)."""
    backend: str = getattr(request, "param", "sqlite")
    return backend


@pytest.fixture
def database_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the test's backend; dropped afterwards (PostgreSQL)."""
    # Tortoise caches each model's INSERT text per connection name, in the dialect of the first
    # database it met; a process of fogbank meets one, a test session meets both.
    EXECUTOR_CACHE.clear()
    if db_backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        yield f"sqlite://{migrated_sqlite(template, tmp_path / 'fogbank.db')}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database(cluster.template)
    try:
        yield url
    finally:
        cluster.drop_database(url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[None]:
    """fogbank's models on the test's database, for tests that use them directly."""
    await open_database(database_url, fresh_sealer())
    yield
    await close_database()


@pytest.fixture
def pg_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A database of its own on the session's PostgreSQL (whatever the test's backend), for
    tests of several instances; dropped afterwards."""
    url = postgres_cluster.create_database(postgres_cluster.template)
    yield url
    postgres_cluster.drop_database(url)


async def _migrate(url: str) -> None:
    await open_database(url, fresh_sealer())
    await close_database()
