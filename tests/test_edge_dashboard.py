"""The dashboard behind the edge over HTTPS (certificates from a real pebble): at the public
host a page without a session redirects to the login page, the login sets the __Host- cookie,
the apps page, an app's page (showing the https payload URL) and the pages' scripts load, a
deploy requested with the session (as the page's button does) is accepted, and the app's
feed socket answers over wss through the edge (the Origin of the public URL admitted, a foreign
one refused). Plain HTTP to the dashboard redirects to HTTPS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from api.pages.site import CSP
from tests.support.https_site import ADMIN_PASSWORD, API_HOST, Site, deploy, https_site
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path: Path, app_name: str) -> Iterator[Site]:
    """The server, stopped before `app_name`'s Docker objects are removed (which is why it asks
    for `app_name`): a running server may still be starting or repairing the app's container."""
    with https_site(tmp_path) as running:
        yield running


def session_cookie(jar: Path) -> str:
    """name=value of the session cookie curl kept in its jar (secure, for the public host)."""
    for line in jar.read_text().splitlines():
        fields = line.removeprefix("#HttpOnly_").split("\t")
        if len(fields) == 7 and fields[5].startswith("__Host-"):
            assert fields[0] == API_HOST and fields[3] == "TRUE", line  # domain, secure
            return f"{fields[5]}={fields[6]}"
    raise AssertionError(f"no __Host- session cookie in {jar.read_text()}")


def feed(site: Site, app_id: int, cookie: str, origin: str) -> Any:
    """The app's feed socket, opened over wss at the public host through the edge."""
    return connect(
        f"wss://{API_HOST}:{site.https_port}/ws/apps/deployments?appId={app_id}",
        host="127.0.0.1",
        port=site.https_port,
        ssl=site.tls_context(),
        server_hostname=API_HOST,
        additional_headers={"Cookie": cookie},
        origin=Origin(origin),
        open_timeout=20,
    )


async def requested_ids(socket: Any, until: int) -> list[int]:
    """The deployments the feed announces, read until `until` is among them."""
    seen: list[int] = []
    while until not in seen:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 60))
        if frame["type"] == "deployment":
            seen.append(frame["data"]["deployment_id"])
    return seen


@pytest.mark.timeout(600)
async def test_the_dashboard_and_its_socket_work_at_the_public_https_host(
    site: Site, web_repo: GitRepo, app_name: str
) -> None:
    server = site.server
    app = server.call(
        "POST",
        "/api/apps/create",
        {"name": app_name, "gitRepository": web_repo.url, "port": 3000, "stabilizationSeconds": 1},
    )["data"]
    first = await asyncio.to_thread(deploy, site, app["id"])

    # No session: the dashboard sends the person to its login page, at the public host.
    status, _, head = await asyncio.to_thread(site.https, API_HOST, "/")
    assert status == 303 and "location: /login" in head, head
    status, body, head = await asyncio.to_thread(site.https, API_HOST, "/login")
    assert status == 200 and "<form" in body
    assert f"content-security-policy: {CSP.lower()}" in head
    # Plain HTTP to the dashboard redirects to HTTPS.
    status, _, head = await asyncio.to_thread(site.http, API_HOST, "/login")
    assert status == 308 and f"location: {site.public_url}/login" in head

    credentials = json.dumps({"username": "admin", "password": ADMIN_PASSWORD})
    json_post = ["-X", "POST", "-H", "Content-Type: application/json"]
    jar = site.data_dir.parent / "cookies.txt"
    status, _, head = await asyncio.to_thread(
        site.https, API_HOST, "/api/auth/login", *json_post, "-c", str(jar), "-d", credentials
    )
    assert status == 200, head
    cookie = session_cookie(jar)
    with_session = ["-b", str(jar)]

    status, body, _ = await asyncio.to_thread(site.https, API_HOST, "/", *with_session)
    assert status == 200 and app_name in body
    status, body, _ = await asyncio.to_thread(
        site.https, API_HOST, f"/apps/{app['id']}", *with_session
    )
    assert status == 200 and app_name in body
    assert (
        f"{site.public_url}/webhooks/github/{app_name}" in body
    )  # the payload URL at the public host
    for script in ("ui.js", "live.js"):
        status, body, _ = await asyncio.to_thread(site.https, API_HOST, f"/ui/assets/{script}")
        assert status == 200 and "function" in body

    # The app's feed over wss through the edge: the newest deployment first, then a deploy
    # requested with the session and the public Origin (what the page's button sends).
    async with feed(site, app["id"], cookie, site.public_url) as socket:
        assert await requested_ids(socket, first["id"]) == [first["id"]]
        origin = ["-H", f"Origin: {site.public_url}"]
        status, body, _ = await asyncio.to_thread(
            site.https,
            API_HOST,
            "/api/deployment/add",
            *json_post,
            *with_session,
            *origin,
            "-d",
            json.dumps({"appId": app["id"]}),
        )
        assert status == 200, body
        requested = json.loads(body)["id"]
        assert await requested_ids(socket, requested) == [requested]
    print(f"app feed over wss at {site.public_url}: deployments {first['id']}, {requested}")

    # The same socket with a foreign Origin is refused (cookie authentication needs this host).
    with pytest.raises(ConnectionClosed) as refused:
        async with feed(site, app["id"], cookie, "https://evil.example.net") as socket:
            await requested_ids(socket, first["id"])
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4403
