"""Who may do what on the dashboard, in real Chromium against a real server: a viewer sees no
controls that change anything and the server refuses those requests from the viewer's session
anyway; a cross-site form post and a wrong Origin are refused; every page carries the CSP and
no-framing headers; pages need a session; controls are labelled and keyboard reachable; the
build log keeps up with a fast build."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from api.pages.site import CSP
from tests.support.browser import Guard, csp_violations, log_in, new_context, unlabelled_controls
from tests.support.dashboard import ADMIN, VIEWER, Dashboard

pytestmark = pytest.mark.slow

CHANGES = {  # what a viewer must neither see nor be able to do
    "deploy": ("#deploy", "/api/deployment/add"),
    "stop": ("#live-stop", "/api/deployment/stop"),
    "rollback": ("button[data-api='/api/deployment/rollback']", "/api/deployment/rollback"),
    "env-edit": ("form[data-api^='/api/apps/envs']", "/api/apps/envs/create"),
    "env-delete": ("button[data-api='/api/apps/envs/delete']", "/api/apps/envs/delete"),
}
FETCH = """async ([path, body]) => {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body)});
  return [r.status, (await r.json()).error];
}"""


@pytest.fixture(scope="module")
def deployed_twice(dashboard: Dashboard) -> dict[str, int]:
    """An app with two successful deployments (so the first can be rolled back to) and an env
    var: everything the app page can offer to change."""
    repo = dashboard.repo("version one\n")
    app = dashboard.create_app(repo)
    first = dashboard.deploy(app["id"])
    dashboard.deploy(app["id"])
    body = {"appId": app["id"], "key": "API_KEY", "value": "s3cret-value", "isSecret": True}
    dashboard.server.call("POST", "/api/apps/envs/create", body)
    return {"app": app["id"], "first": first["id"]}


def page_as(browser: Browser, dashboard: Dashboard, user: tuple[str, str]) -> Page:
    context = new_context(browser, Guard({dashboard.base}))
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, dashboard.base, *user)
    return page


def count_deployments(dashboard: Dashboard, app_id: int) -> int:
    return len(dashboard.server.deployments(app_id))


def test_a_viewer_sees_no_controls_and_is_refused_anyway(
    browser: Browser, dashboard: Dashboard, deployed_twice: dict[str, int]
) -> None:
    app_id = deployed_twice["app"]
    admin = page_as(browser, dashboard, ADMIN)
    admin.goto(f"{dashboard.base}/apps/{app_id}")
    for name in ("deploy", "stop", "rollback", "env-edit", "env-delete"):  # the control exists
        assert admin.locator(CHANGES[name][0]).count() >= 1, name
    expect(admin.get_by_text("s3cret-value")).to_have_count(0)  # secrets stay write-only

    viewer = page_as(browser, dashboard, VIEWER)
    expect(viewer.get_by_role("link", name="Users")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Create app")).to_have_count(0)
    viewer.goto(f"{dashboard.base}/apps/{app_id}")
    expect(viewer.locator("tr[data-deployment-id]")).to_have_count(2)
    for name, (selector, _) in CHANGES.items():
        assert viewer.locator(selector).count() == 0, f"a viewer sees the {name} control"
    expect(viewer.get_by_role("button", name="Reveal the secret")).to_have_count(0)
    before = count_deployments(dashboard, app_id)
    bodies = {
        "/api/deployment/add": {"appId": app_id},
        "/api/deployment/rollback": {"deploymentId": deployed_twice["first"]},
        "/api/deployment/stop": {"deploymentId": deployed_twice["first"]},
        "/api/apps/envs/create": {"appId": app_id, "key": "X", "value": "y"},
        "/api/apps/webhook": {"appId": app_id},
    }
    for path, body in bodies.items():
        status, code = viewer.evaluate(FETCH, [path, body])
        assert (status, code) == (403, "FORBIDDEN"), path
    assert count_deployments(dashboard, app_id) == before
    response = viewer.goto(f"{dashboard.base}/users")
    assert response is not None and response.status == 403
    assert csp_violations(viewer) == [] and csp_violations(admin) == []


class EvilSite(http.server.BaseHTTPRequestHandler):
    """Another origin on loopback whose page posts forms to the dashboard's API."""

    target = ""
    app_id = 0

    def do_GET(self) -> None:
        target, app_id = self.target, self.app_id
        page = f"""<!doctype html><title>evil</title>
<form method="post" action="{target}/api/deployment/add"><input name="appId" value="{app_id}">
<button id="urlencoded">win a prize</button></form>
<form method="post" action="{target}/api/deployment/add" enctype="text/plain">
<input name='{{"appId": {app_id}, "x": "' value='"}}'><button id="json-ish">win another</button>
</form>"""
        data = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def evil_site(dashboard: Dashboard) -> Iterator[str]:
    EvilSite.target = dashboard.base
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EvilSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(10)


def test_cross_site_posts_and_a_wrong_origin_are_refused(
    browser: Browser, dashboard: Dashboard, deployed_twice: dict[str, int], evil_site: str
) -> None:
    app_id = deployed_twice["app"]
    before = count_deployments(dashboard, app_id)
    guard = Guard({dashboard.base, evil_site})
    context = new_context(browser, guard)
    page = context.new_page()
    log_in(page, dashboard.base, *ADMIN)
    EvilSite.app_id = app_id
    for button in ("#urlencoded", "#json-ish"):
        page.goto(evil_site)
        with page.expect_response(f"{dashboard.base}/api/deployment/add") as posted:
            page.click(button)
        assert posted.value.status == 403, button
        assert posted.value.json()["error"] == "CSRF_REJECTED"
    assert guard.refused == []

    cookie = {c["name"]: c["value"] for c in context.cookies()}
    with httpx.Client(base_url=dashboard.base, cookies=cookie) as session:
        own = session.post("/api/deployment/add", json={"appId": 999_999})
        assert own.status_code == 404  # the session works: same-origin requests get through
        foreign = session.post(
            "/api/deployment/add", json={"appId": app_id}, headers={"Origin": "http://evil.test"}
        )
        assert (foreign.status_code, foreign.json()["error"]) == (403, "CSRF_REJECTED")
        form = session.post("/api/deployment/add", data={"appId": str(app_id)})
        assert (form.status_code, form.json()["error"]) == (403, "CSRF_REJECTED")
    assert count_deployments(dashboard, app_id) == before
    context.close()


def test_every_page_has_the_csp_and_needs_a_session(
    dashboard: Dashboard, deployed_twice: dict[str, int]
) -> None:
    app_id, first = deployed_twice["app"], deployed_twice["first"]
    pages = ["/", f"/apps/{app_id}", f"/apps/{app_id}/state", f"/deployments/{first}", "/tokens",
             "/users", "/apps/999999", "/deployments/999999"]  # fmt: skip
    with httpx.Client(base_url=dashboard.base) as anonymous:
        for path in pages:
            response = anonymous.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login"), path
            assert response.headers["content-security-policy"] == CSP
        login = anonymous.get("/login?next=//evil.test/x")
        assert login.status_code == 200 and 'data-then="go:/"' in login.text
        assert anonymous.get("/signup").headers["location"] == "/login"  # a user exists
        username, password = ADMIN
        answer = anonymous.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert answer.status_code == 200
        for path in pages:
            response = anonymous.get(path)
            assert response.status_code == (404 if "999999" in path else 200), path
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["content-security-policy"] == CSP
            assert response.headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert "frame-ancestors 'none'" in CSP


def test_controls_are_labelled_and_deploy_works_from_the_keyboard(
    browser: Browser, dashboard: Dashboard, deployed_twice: dict[str, int]
) -> None:
    page = page_as(browser, dashboard, ADMIN)
    for path in ("/", f"/apps/{deployed_twice['app']}", "/tokens", "/users"):
        page.goto(dashboard.base + path)
        assert unlabelled_controls(page) == [], path
    page.goto(f"{dashboard.base}/apps/{deployed_twice['app']}")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "deploy":
            break
    assert page.evaluate("document.activeElement.id") == "deploy"
    page.keyboard.press("Enter")
    expect(page.locator("#live-status")).to_have_text("success", timeout=120_000)
    assert csp_violations(page) == []


def test_admins_manage_tokens_and_users(browser: Browser, dashboard: Dashboard) -> None:
    page = page_as(browser, dashboard, ADMIN)
    page.goto(f"{dashboard.base}/tokens")
    page.get_by_label("Name").fill("from-the-page")
    page.get_by_role("button", name="Create token").click()
    shown = page.locator("#new-token code")
    expect(shown).to_have_text(re.compile(r"\S{20,}"))
    token = shown.inner_text()
    me = httpx.get(f"{dashboard.base}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["data"]["username"] == ADMIN[0]
    page.reload()
    expect(page.get_by_text("shown only once")).to_be_hidden()  # shown once, never again
    page.get_by_role("button", name="Revoke the token from-the-page").click()
    page.wait_for_load_state()
    expect(page.get_by_role("button", name="Revoke the token from-the-page")).to_have_count(0)
    me = httpx.get(f"{dashboard.base}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401

    page.goto(f"{dashboard.base}/users")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill("carol's long password")
    page.get_by_label("Role", exact=True).select_option("deployer")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Role of carol")).to_have_value("deployer")
    page.get_by_label("Role of carol").select_option("viewer")
    page.locator("tr", has_text="carol").get_by_role("button", name="Set role").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Role of carol")).to_have_value("viewer")
    page.get_by_role("button", name="Disable carol").click()
    expect(page.locator("tr", has_text="carol")).to_contain_text("disabled")
    refused = httpx.post(
        f"{dashboard.base}/api/auth/login",
        json={"username": "carol", "password": "carol's long password"},
    )
    assert refused.status_code == 401
    assert csp_violations(page) == []
