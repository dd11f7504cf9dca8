"""ApiToken.last_used_at: set on use, then refreshed at most once a minute (not a database write
on every request)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from quart.testing import QuartClient

from controller.accounts.auth import LAST_USED_RESOLUTION
from controller.store.models import ApiToken

pytestmark = pytest.mark.slow


async def test_last_used_at_is_written_on_use_then_at_most_once_a_minute(
    client: QuartClient, admin: dict[str, str]
) -> None:
    assert (await client.get("/api/auth/me", headers=admin)).status_code == 200
    token = await ApiToken.get(name="tests")
    first = token.last_used_at
    assert first is not None

    assert (await client.get("/api/auth/me", headers=admin)).status_code == 200
    await token.refresh_from_db()
    assert token.last_used_at == first

    stale = first - LAST_USED_RESOLUTION - timedelta(seconds=1)
    await ApiToken.filter(id=token.id).update(last_used_at=stale)
    assert (await client.get("/api/auth/me", headers=admin)).status_code == 200
    await token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at > stale
