"""The app page's runtime logs panel in real Chromium against a real `fogbank serve`, Docker and
git: Follow shows what the serving container prints (stderr marked, a secret env value masked),
new lines as they come, the next deployment's container after a redeploy (the old one's lines
stop), and goes on after a server restart without a gap or a repeat (it resumes with ?since=).
A viewer can follow too. Every request must go to the server under test."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.api import unique_name
from tests.support.browser import (
    DESKTOP,
    PHONE,
    Guard,
    csp_violations,
    log_in,
    new_context,
    screenshot,
)
from tests.support.dashboard import ADMIN, VIEWER, Dashboard
from tests.support.repos import BUSYBOX, GitRepo, chatty_dockerfile

pytestmark = pytest.mark.slow

SECRET = "runtime-secret-nobody-may-read"
TICK = re.compile(r"^(v\d) tick (\d+)$")


@pytest.fixture
def guard(dashboard: Dashboard) -> Iterator[Guard]:
    found = Guard({dashboard.base})
    yield found
    assert found.refused == [], "the page sent requests to other hosts"
    assert any("/ws/apps/logs" in url for url in found.sockets), found.sockets


@pytest.fixture
def context(browser: Browser, guard: Guard) -> Iterator[BrowserContext]:
    found = new_context(browser, guard)
    yield found
    found.close()


def chatty_repo(dashboard: Dashboard) -> GitRepo:
    """Serves www/ and prints `v1 tick N` every 0.2 s (tests/support/repos.py), labelled."""
    path = dashboard.root / unique_name("chatty")
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    shutil.copy(BUSYBOX, path / "busybox")
    dockerfile = dashboard.dockerfile(chatty_dockerfile("v1"))
    repo.commit("v1", {"Dockerfile": dockerfile, "www/index.html": "v1\n"})
    return repo


def ticks(page: Page, version: str) -> list[int]:
    """The tick numbers of `version` the panel shows, in the order shown."""
    lines = page.locator("#runtime-log").inner_text().splitlines()
    return [int(m[2]) for m in map(TICK.match, lines) if m and m[1] == version]


def wait_ticks(page: Page, version: str, count: int, timeout_ms: int = 15_000) -> list[int]:
    """Wait until the panel shows `count` more ticks of `version` than now."""
    start = len(ticks(page, version))
    page.wait_for_function(
        """([version, wanted]) => document.getElementById("runtime-log").innerText
             .split("\\n").filter((l) => l.startsWith(version + " tick ")).length >= wanted""",
        arg=[version, start + count],
        timeout=timeout_ms,
    )
    return ticks(page, version)


def contiguous(numbers: list[int]) -> bool:
    return numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_follow_runtime_logs_across_a_redeploy_and_a_restart(
    context: BrowserContext, dashboard: Dashboard
) -> None:
    repo = chatty_repo(dashboard)
    app = dashboard.create_app(repo)
    call = dashboard.server.call
    call("POST", "/api/apps/envs/create",
         {"appId": app["id"], "key": "APP_SECRET", "value": SECRET, "isSecret": True})  # fmt: skip
    dashboard.deploy(app["id"])

    page = context.new_page()
    log_in(page, dashboard.base, *ADMIN)
    page.goto(f"{dashboard.base}/apps/{app['id']}")
    follow = page.get_by_role("button", name="Follow")
    expect(page.locator("#runtime-status")).to_contain_text("Not following")
    follow.click()
    log = page.locator("#runtime-log")
    expect(log).to_contain_text("v1 started secret=********", timeout=15_000)
    expect(log).to_contain_text("stderr: v1 to stderr")
    expect(page.locator("#runtime-status")).to_contain_text("Following deployment #1")
    # New lines as the container prints them (one every 0.2 s): five more within 2 s.
    wait_ticks(page, "v1", 5, timeout_ms=2_000)

    # A redeploy: the panel follows the new container, says so, and the old one's lines stop.
    repo.commit("v2", {"Dockerfile": dashboard.dockerfile(chatty_dockerfile("v2"))})
    dashboard.deploy(app["id"])
    expect(log).to_contain_text("v2 started secret=********", timeout=15_000)
    expect(page.locator("#runtime-status")).to_contain_text("Deployment #2 serves the app now")
    v1_after_switch = ticks(page, "v1")
    wait_ticks(page, "v2", 10)
    assert ticks(page, "v1") == v1_after_switch, "the old container's lines kept coming"
    assert contiguous(v1_after_switch), v1_after_switch
    assert SECRET not in page.content()
    screenshot(page, "app-runtime-logs", [("desktop", DESKTOP), ("phone", PHONE)])

    # A server restart: the socket drops (1001), the page reconnects after the last line shown.
    assert dashboard.server.terminate() == 0
    expect(page.locator("#runtime-status")).to_contain_text("reconnecting")
    dashboard.server.start()
    before = len(ticks(page, "v2"))
    shown = wait_ticks(page, "v2", 10)
    assert len(shown) >= before + 10 and contiguous(shown), shown  # no line lost or doubled
    expect(page.locator("#runtime-status")).to_contain_text("Following deployment #2")

    page.get_by_role("button", name="Stop following").click()
    expect(page.locator("#runtime-status")).to_have_text("Not following.")
    stopped = len(ticks(page, "v2"))
    page.wait_for_timeout(1_000)
    assert len(ticks(page, "v2")) == stopped
    assert csp_violations(page) == []


def test_a_viewer_follows_the_runtime_logs(context: BrowserContext, dashboard: Dashboard) -> None:
    repo = chatty_repo(dashboard)
    app = dashboard.create_app(repo)
    page = context.new_page()
    log_in(page, dashboard.base, *VIEWER)
    page.goto(f"{dashboard.base}/apps/{app['id']}")
    page.get_by_role("button", name="Follow").click()
    # Nothing deployed yet: the panel says so, then shows the first deployment's lines.
    expect(page.locator("#runtime-status")).to_contain_text("No deployment serves the app")
    dashboard.deploy(app["id"])
    expect(page.locator("#runtime-log")).to_contain_text("v1 tick", timeout=15_000)
    expect(page.locator("#runtime-status")).to_contain_text("Deployment #1 serves the app now")
    assert csp_violations(page) == []
