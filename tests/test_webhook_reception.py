"""A verified delivery is parsed only then, and off the event loop when it is large. Real app
lifespan, real SQLite, a real git repository; GitHub.com is the one thing faked (its real
payloads, re-aimed and signed here)."""

from __future__ import annotations

import threading

import pytest
from quart.testing import QuartClient

from controller.config import Settings
from tests.support.api import create_web_app, unique_name
from tests.support.github import answer_of, deliver, hook_of, push
from tests.support.repos import GitRepo
from webhooks import reception
from webhooks.dispatch import Delivery, Received, receive

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    controller = settings.controller.model_copy(update={"workers": 0})  # a config cannot say 0
    return settings.model_copy(update={"controller": controller})


async def test_large_bodies_are_parsed_in_a_thread_small_ones_inline(
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed_in: list[tuple[int, bool]] = []  # body size, parsed on the event loop's thread

    def spy(delivery: Delivery, app_name: str | None = None) -> Received:
        on_loop = threading.current_thread() is threading.main_thread()
        parsed_in.append((len(delivery.body), on_loop))
        return receive(delivery, app_name)

    monkeypatch.setattr(reception, "receive", spy)
    created = await create_web_app(client, admin, unique_name(), web_repo)
    hook = await hook_of(client, admin, created["id"])
    small = push(web_repo.url, "main", web_repo.commit("small", {"a": "1"}), "small")
    large = push(web_repo.url, "main", web_repo.commit("large", {"a": "2"}), "large")
    large["padding"] = ["x" * 100] * 10_000  # a megabyte of commits, say

    for payload in (small, large):
        await answer_of(await deliver(client, payload, hook), 200)
    (small_size, small_on_loop), (large_size, large_on_loop) = parsed_in
    assert small_size <= reception.INLINE_PARSE_BYTES < large_size
    assert small_on_loop and not large_on_loop

    # A forged one is never parsed at all.
    await answer_of(await deliver(client, large, "not the secret", path=hook.path), 401)
    assert len(parsed_in) == 2
