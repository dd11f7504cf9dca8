"""Real Chromium (Debian's `chromium` package) driven by Playwright, for the dashboard's tests.

Playwright's own browser download is never used: the browser is /usr/bin/chromium. Every
context gets a guard that lets requests reach only the origins a test allows (the server under
test), blocks and records anything else, and records WebSockets opened elsewhere, which fails
the test; a recorder of Content Security Policy violations; and screenshots go to
test-artifacts/dashboard/ (gitignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, WebSocket

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
# Records CSP violations the page reports, and every state the live panel shows: its status,
# stage, progress and steps, and whether it holds log lines yet.
RECORDERS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
window.__live = [];
const snapshot = () => {
  const status = document.getElementById("live-status");
  const stage = document.getElementById("live-stage");
  const bar = document.getElementById("live-progress");
  const log = document.getElementById("live-log");
  if (!status || !stage || !bar || !log) return;
  const steps = Array.from(document.querySelectorAll("#live-stages li"))
    .map((li) => li.dataset.stage + ":" + li.className).join(" ");
  const state = {
    status: status.textContent, stage: stage.textContent, progress: Number(bar.value),
    lines: log.childElementCount, steps: steps, at: performance.now(),
  };
  const last = window.__live[window.__live.length - 1];
  if (!last || last.status !== state.status || last.stage !== state.stage ||
      last.progress !== state.progress || last.steps !== state.steps ||
      (last.lines === 0) !== (state.lines === 0)) {
    window.__live.push(state);
  }
};
new MutationObserver(snapshot).observe(document, {
  subtree: true, childList: true, characterData: true, attributes: true,
});
"""


def launch(playwright: Playwright) -> Browser:
    assert CHROMIUM.exists(), "install Debian's chromium package (scripts/setup-host does)"
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


@dataclass
class Guard:
    """Lets a context's requests reach only `allowed` origins and records its WebSockets to
    anywhere else; what else it tried is in `refused`."""

    allowed: set[str]
    refused: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)  # every WebSocket seen (the watch works)

    def attach(self, context: BrowserContext) -> None:
        context.route(re.compile(r".*"), self._request)
        # WebSockets are watched, not routed: a routed socket passes every frame through the
        # driver, which slows a busy log stream tenfold. A socket to elsewhere is still caught.
        context.on("page", lambda page: page.on("websocket", self._socket))

    def _request(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or origin_of(url) in self.allowed:
            route.fallback()
            return
        self.refused.append(url)
        route.abort("blockedbyclient")

    def _socket(self, socket: WebSocket) -> None:
        self.sockets.append(socket.url)
        if origin_of(socket.url) not in self.allowed:
            self.refused.append(socket.url)


def new_context(
    browser: Browser, guard: Guard, viewport: dict[str, int] = DESKTOP
) -> BrowserContext:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    guard.attach(context)
    context.add_init_script(RECORDERS)
    return context


def log_in(page: Page, base: str, username: str, password: str) -> None:
    """Through the login form, as a person would; lands on the apps page."""
    page.goto(base + "/")
    page.wait_for_url(re.compile(r".*/login.*"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def screenshot(page: Page, name: str, sizes: Iterable[tuple[str, dict[str, int]]]) -> list[Path]:
    """Full-page screenshots of the page at each (label, viewport); back to desktop after."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    for label, viewport in sizes:
        page.set_viewport_size(viewport)  # type: ignore[arg-type]
        page.wait_for_timeout(100)
        path = ARTIFACTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    return saved


def csp_violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.__cspViolations || []")
    return found


def unlabelled_controls(page: Page) -> list[str]:
    """Inputs, selects and buttons a screen reader could not name."""
    found: list[str] = page.evaluate(
        """() => {
        const bad = [];
        for (const el of document.querySelectorAll("input, select, textarea, button")) {
          if (el.type === "hidden") continue;
          const named = (el.labels && el.labels.length) || el.getAttribute("aria-label") ||
            el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim());
          if (!named) bad.push(el.outerHTML.slice(0, 120));
        }
        return bad;
      }"""
    )
    return found
