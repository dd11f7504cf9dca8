"""The dashboard in real Chromium against a real `fogbank serve`, Docker and git: log in, create
an app, deploy it and watch the progress bar and the build log live; a failing build; a
rollback from the history; a deployment a webhook asked for, shown without a reload. Every
request the browser makes must go to the server under test (tests/support/browser.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support import github
from tests.support.api import unique_name
from tests.support.browser import (
    DESKTOP,
    PHONE,
    Guard,
    csp_violations,
    log_in,
    new_context,
    screenshot,
    unlabelled_controls,
)
from tests.support.dashboard import ADMIN, BROKEN_DOCKERFILE, Dashboard, served
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

STAGES = ["cloning repo", "building image", "starting new", "stopping old", "completed"]
TERMINAL_WORDS = {"success", "failed", "stopped", "rolled back"}


@pytest.fixture
def guard(dashboard: Dashboard) -> Iterator[Guard]:
    found = Guard({dashboard.base})
    yield found
    assert found.refused == [], "the page sent requests to other hosts"
    assert found.sockets, "no WebSocket was seen: the guard's watch is not attached"


@pytest.fixture
def context(browser: Browser, guard: Guard) -> Iterator[BrowserContext]:
    found = new_context(browser, guard)
    yield found
    found.close()


@pytest.fixture
def admin_page(context: BrowserContext, dashboard: Dashboard) -> Iterator[Page]:
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the confirm() of rollback and stop
    log_in(page, dashboard.base, *ADMIN)
    yield page
    assert csp_violations(page) == []


def live_states(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("window.__live")
    return found


def test_create_deploy_watch_progress_and_log_live(admin_page: Page, dashboard: Dashboard) -> None:
    page = admin_page
    screenshot(page, "apps-empty", [("desktop", DESKTOP)])
    # The API's own validation message, shown by the form.
    page.get_by_label("Name").fill("Not A Name")
    page.get_by_role("button", name="Create app").click()
    expect(page.locator(".form-error").first).to_contain_text("name must be")

    repo = dashboard.repo("version one\n")
    name = unique_name("dash")
    dashboard.names.append(name)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Git repository").fill(repo.url)
    port = free_port()
    page.get_by_label("Public port (optional)").fill(str(port))
    page.get_by_role("button", name="Create app").click()
    page.wait_for_url(f"{dashboard.base}/apps/*")
    app_id = int(page.url.rsplit("/", 1)[1])
    # The form has no field for the safety window: shortened through the API to keep this fast.
    dashboard.server.call("PUT", "/api/apps/update", {"appId": app_id, "stabilizationSeconds": 1})
    assert unlabelled_controls(page) == []

    page.reload()
    page.get_by_role("button", name="Deploy main").click()
    expect(page.locator("#live-status")).to_have_text("success", timeout=120_000)
    expect(page.locator("#live-percent")).to_have_text("100 %")

    states = live_states(page)
    # The stages shown as current, in order; a stage that ended before the page's socket was
    # open (cloning a small local repository) is shown done instead.
    seen = [s["stage"] for s in states if s["stage"] in STAGES]
    firsts = sorted({stage: seen.index(stage) for stage in seen}.items(), key=lambda x: x[1])
    assert [stage for stage, _ in firsts] == [stage for stage in STAGES if stage in seen], seen
    assert {"building image", "starting new", "stopping old", "completed"} <= set(seen), seen
    assert "cloning repo" in seen or any(
        "cloning_repo:done" in s["steps"] and s["status"] not in TERMINAL_WORDS for s in states
    )
    done_all = " ".join(f"{stage.replace(' ', '_')}:done" for stage in STAGES)
    assert states[-1]["steps"] == done_all, states[-1]
    progress = [s["progress"] for s in states]
    assert progress == sorted(progress) and progress[-1] == 100, progress
    assert len(set(progress)) >= 5, progress  # the bar moved through the stages
    mid_build = [s for s in states if s["lines"] > 0 and s["status"] not in TERMINAL_WORDS]
    assert mid_build, f"no log line was shown before the deployment finished: {states}"
    assert mid_build[0]["stage"] != "completed"
    expect(page.locator("#live-log")).to_contain_text("building part 3")
    assert "version one" in served(port, "version one")

    # The history row, and the deployment's own page: timings, log and its download.
    row = page.locator("tr[data-deployment-id]").first
    expect(row).to_contain_text("success")
    expect(row).to_contain_text("manual by admin")
    screenshot(page, "app", [("desktop", DESKTOP), ("phone", PHONE)])
    row.get_by_role("link").first.click()
    expect(page.locator("table.timings")).to_contain_text("building image")
    expect(page.locator("#full-log")).to_contain_text("Deployment completed successfully")
    download = page.get_by_role("link", name="Download the log")
    text = page.request.get(dashboard.base + str(download.get_attribute("href"))).text()
    assert "building part 3" in text and "Deployment completed successfully" in text
    screenshot(page, "deployment", [("desktop", DESKTOP), ("phone", PHONE)])
    page.goto(dashboard.base + "/")
    expect(page.locator(f"tr[data-app-id='{app_id}']")).to_contain_text("running")
    screenshot(page, "apps", [("desktop", DESKTOP), ("phone", PHONE)])


def test_failed_build_shows_the_quoted_error_and_rollback_restores(
    admin_page: Page, dashboard: Dashboard
) -> None:
    page = admin_page
    repo = dashboard.repo("version one\n")
    app = dashboard.create_app(repo)
    first = dashboard.deploy(app["id"])
    repo.commit("second version", {"www/index.html": "version two\n"})
    dashboard.deploy(app["id"])
    assert "version two" in served(app["public_port"], "version two")
    repo.commit("break the build", {"Dockerfile": dashboard.dockerfile(BROKEN_DOCKERFILE)})

    page.goto(f"{dashboard.base}/apps/{app['id']}")
    page.get_by_role("button", name="Deploy main").click()
    expect(page.locator("#live-status")).to_have_text("failed", timeout=120_000)
    failed_id = int(str(page.locator("#live-link").get_attribute("href")).rsplit("/", 1)[1])
    error = dashboard.deployment(failed_id)["error_message"]
    assert error and "file-that-does-not-exist" in error
    expect(page.locator("#live-error")).to_be_visible()
    expect(page.locator("#live-error-text")).to_have_text(error)
    expect(page.locator(f"tr[data-deployment-id='{failed_id}']")).to_contain_text("failed")
    screenshot(page, "app-failed", [("desktop", DESKTOP)])
    assert "version two" in served(app["public_port"], "version two")  # still the old one

    page.get_by_role(
        "button", name=f"Roll back to deployment #{first['deployment_number']}"
    ).click()
    expect(page.locator("#live-status")).to_have_text("success", timeout=120_000)
    expect(page.locator("#live-link")).not_to_have_attribute("href", f"/deployments/{failed_id}")
    assert "version one" in served(app["public_port"], "version one")
    rows = page.locator("tr[data-deployment-id]")
    expect(rows.first).to_contain_text("rollback by admin")


def test_a_webhook_deployment_appears_within_a_second(
    admin_page: Page, dashboard: Dashboard
) -> None:
    page = admin_page
    repo = dashboard.repo("version one\n")
    app = dashboard.create_app(repo)
    dashboard.deploy(app["id"])
    hook = dashboard.server.call("POST", "/api/apps/webhook", {"appId": app["id"]})["data"]
    secret, payload_url = hook["secret"], hook["payloadUrl"]  # the app's own URL and secret
    page.goto(f"{dashboard.base}/apps/{app['id']}")
    assert f"payload URL <code>{payload_url}</code>" in page.content()  # its own, not the global
    page.evaluate("window.__notReloaded = true")
    page.wait_for_timeout(300)  # the page's sockets are open
    sha = repo.commit("pushed from outside", {"www/index.html": "version pushed\n"})
    body, headers = github.signed(github.push(repo.url, "main", sha, "pushed from outside"), secret)

    sent = time.monotonic()
    answer = httpx.post(payload_url, content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    made = answer.json()["data"]["deployments"][0]["deploymentId"]
    page.locator(f"tr[data-deployment-id='{made}']").wait_for(timeout=5_000)
    shown_after = time.monotonic() - sent
    print(f"\nwebhook deployment #{made} shown {shown_after * 1000:.0f} ms after the delivery")
    assert shown_after < 1.0
    assert page.evaluate("window.__notReloaded") is True
    expect(page.locator(f"tr[data-deployment-id='{made}']")).to_contain_text("webhook")
    expect(page.locator("#live-link")).to_have_attribute("href", f"/deployments/{made}")
    expect(page.locator("#live-status")).to_have_text("success", timeout=120_000)
    assert "version pushed" in served(app["public_port"], "version pushed")
