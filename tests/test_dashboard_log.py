"""The live build log keeps up in real Chromium: a build prints 20,000 lines, then waits; a page
opened then receives the whole log from the seed's socket as fast as the server sends it (far
over 1,000 lines a second), the tab never blocks for long (lines are added once per animation
frame), the page keeps only its last lines with a link to the full log, and it follows the end
only while the reader is at the end."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import Guard, csp_violations, log_in, new_context
from tests.support.dashboard import ADMIN, Dashboard

pytestmark = pytest.mark.slow

LINES = 20_000
CHATTY_DOCKERFILE = f"""FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "i=0; while [ $i -lt {LINES} ]; do echo log line $i; i=$((i+1)); done"]
RUN ["/bin/busybox", "sleep", "15"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""
# Long tasks and when each log line arrived, as the page saw them.
PROBES = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
}).observe({entryTypes: ["longtask"]});
window.__frames = [];
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = new Native(url, protocols);
  socket.addEventListener("message", (event) => {
    if (event.data.includes('"type": "log"')) window.__frames.push(performance.now());
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
"""


def log_text(dashboard: Dashboard, deployment_id: int) -> str:
    response = httpx.get(
        f"{dashboard.base}/api/deployment/logs/{deployment_id}",
        headers={"Authorization": f"Bearer {dashboard.server.token}"},
        timeout=30,
    )
    return response.text


def test_a_fast_build_log_streams_without_freezing_the_tab(
    browser: Browser, dashboard: Dashboard
) -> None:
    repo = dashboard.repo("chatty\n")
    repo.commit("print a lot", {"Dockerfile": dashboard.dockerfile(CHATTY_DOCKERFILE)})
    app = dashboard.create_app(repo)
    context = new_context(browser, Guard({dashboard.base}))
    context.add_init_script(PROBES)
    page = context.new_page()
    log_in(page, dashboard.base, *ADMIN)
    made = dashboard.server.call("POST", "/api/deployment/add", {"appId": app["id"]})
    deadline = time.monotonic() + 180
    while f"log line {LINES - 1}" not in log_text(dashboard, made["id"]):  # a 400 kB read
        assert time.monotonic() < deadline, "the build did not print its lines in 180 s"
        assert dashboard.deployment(made["id"])["status"] in ("pending", "building"), log_text(
            dashboard, made["id"]
        )[-3000:]
        time.sleep(1)
    page.goto(f"{dashboard.base}/apps/{app['id']}")  # the build is sleeping: the page follows it
    cap = int(str(page.locator("#live").get_attribute("data-log-cap")))

    page.wait_for_function("() => document.querySelectorAll('#live-log .line').length > 500")
    at_end = "(() => { const e = document.getElementById('live-log');"
    at_end += " return e.scrollTop + e.clientHeight >= e.scrollHeight - 8; })()"
    assert page.evaluate(at_end), "the log did not follow its end"
    expect(page.locator("#live-log")).to_contain_text(f"log line {LINES - 1}", timeout=60_000)
    page.evaluate("document.getElementById('live-log').scrollTop = 0")  # the reader scrolls up
    expect(page.locator("#live-status")).to_have_text("success", timeout=120_000)

    frames: list[float] = page.evaluate("window.__frames")
    assert len(frames) >= LINES
    replay = frames[:LINES]
    rate = len(replay) / max(0.001, (replay[-1] - replay[0]) / 1000)
    long_tasks: list[float] = page.evaluate("window.__longTasks")
    lines_kept = page.locator("#live-log .line").count()
    scrolled = page.evaluate("document.getElementById('live-log').scrollTop")
    print(
        f"\n{len(frames)} log frames at {rate:.0f} lines/s; longest task "
        f"{max(long_tasks, default=0):.0f} ms ({len(long_tasks)} over 50 ms); "
        f"{lines_kept} lines kept in the page"
    )
    assert rate > 1000, "the log did not arrive fast enough to test the page"
    # A frozen tab blocks for seconds; a busy one for one frame's work (the figure printed above
    # is wall time, and this machine is shared: BENCHMARKS.md).
    assert max(long_tasks, default=0) < 500
    assert lines_kept == cap
    expect(page.locator("#live-cap")).to_be_visible()
    live_link = str(page.locator("#live-link").get_attribute("href"))
    expect(page.get_by_role("link", name="Full log")).to_have_attribute("href", live_link)
    assert scrolled < 50, "the log jumped to its end while the reader was reading above"
    assert csp_violations(page) == []
    context.close()
