"""HTTPS at the edge against a real ACME CA (Debian's pebble, its DNS resolving every name to
127.0.0.1): a domain created through the API answers over HTTPS with a certificate pebble
issued, plain HTTP redirects, a second domain added later works without a restart (and without
touching the front or failing a request on the first), a deleted domain stops being served, a
name nobody added gets no certificate. fogbank's own API is served at its https public URL:
a signed GitHub push sent there deploys, the payload URL the API shows is that address, the
session cookie is __Host- and Secure, and a forged X-Forwarded-For does not get past the edge."""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.github import push
from tests.support.https_site import API_HOST, Site, deploy, https_site, issuer
from tests.support.load import SteadyLoad
from tests.support.pebble import curl
from tests.support.repos import GitRepo
from tests.support.server import wait_until
from webhooks.signature import sign

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with https_site(tmp_path) as running:
        yield running


@pytest.mark.timeout(600)
async def test_domains_get_certificates_redirect_and_come_and_go_without_a_restart(
    site: Site, web_repo: GitRepo, app_name: str
) -> None:
    server = site.server
    app = server.call(
        "POST",
        "/api/apps/create",
        {"name": app_name, "gitRepository": web_repo.url, "port": 3000, "stabilizationSeconds": 1},
    )["data"]
    deploy(site, app["id"])
    shop = server.call(
        "POST", "/api/apps/domains/create", {"appId": app["id"], "hostname": "shop.example.com"}
    )
    assert shop["success"], shop

    status, body, _ = await asyncio.to_thread(site.https, "shop.example.com")
    assert (status, body) == (200, "version one\n")
    assert issuer(site, "shop.example.com").startswith("Pebble Intermediate CA")
    status, _, head = await asyncio.to_thread(site.http, "shop.example.com", "/a/b?c=1")
    assert status == 308
    assert f"location: https://shop.example.com:{site.https_port}/a/b?c=1" in head

    # A name nobody added: no certificate (the edge asked fogbank's table first).
    stranger = curl(
        *site.resolve("stranger.example.com"),
        f"https://stranger.example.com:{site.https_port}/",
        root=site.pebble.root,
    )
    assert stranger.returncode != 0 and "version one" not in stranger.stdout

    front_before = site.edge_files()
    load = SteadyLoad(
        f"https://127.0.0.1:{site.https_port}/",
        clients=8,
        host_header="shop.example.com",
        expect=frozenset({"version one\n"}),
        verify=ssl.create_default_context(cafile=str(site.pebble.root)),
    )
    async with load:
        await asyncio.sleep(1)
        blog = server.call(
            "POST", "/api/apps/domains/create", {"appId": app["id"], "hostname": "blog.example.com"}
        )["data"]
        status, body, _ = await asyncio.to_thread(site.https, "blog.example.com")
        assert (status, body) == (200, "version one\n")
        assert issuer(site, "blog.example.com").startswith("Pebble Intermediate CA")
        server.call("DELETE", "/api/apps/domains/delete", {"domainId": blog["id"]})
        status, body, _ = await asyncio.to_thread(site.https, "blog.example.com")
        assert status == 404 and "no app is served for this host" in body
        status, _, _ = await asyncio.to_thread(site.http, "blog.example.com")
        assert status == 404  # no redirect either: it is simply not served
        await asyncio.sleep(1)
    print(f"shop.example.com over HTTPS while blog.example.com came and went: {load.counts()}")
    assert load.failures == [], load.failures[:5]
    assert len(load.samples) > 100
    # The front (client connections, TLS) was neither restarted nor reloaded.
    assert site.edge_files() == front_before


@pytest.mark.timeout(600)
async def test_the_api_at_its_public_url_takes_a_signed_push_that_deploys(
    site: Site, web_repo: GitRepo, app_name: str
) -> None:
    server = site.server
    app = server.call(
        "POST",
        "/api/apps/create",
        {"name": app_name, "gitRepository": web_repo.url, "port": 3000, "stabilizationSeconds": 1},
    )["data"]
    hook = server.call("POST", "/api/apps/webhook", {"appId": app["id"]})["data"]
    payload_url = f"https://{API_HOST}:{site.https_port}/webhooks/github/{app_name}"
    assert hook["payloadUrl"] == payload_url

    sha = web_repo.commit("ship it", {"www/index.html": "pushed\n"})
    body = json.dumps(push(web_repo.url, "main", sha, "ship it")).encode()
    (site.data_dir.parent / "push.json").write_bytes(body)
    delivered = await asyncio.to_thread(
        curl,
        "-X",
        "POST",
        *site.resolve(API_HOST),
        "-H",
        "Content-Type: application/json",
        "-H",
        "X-GitHub-Event: push",
        "-H",
        f"X-GitHub-Delivery: {uuid.uuid4()}",
        "-H",
        f"X-Hub-Signature-256: {sign(hook['secret'], body)}",
        "--data-binary",
        f"@{site.data_dir.parent / 'push.json'}",
        "-w",
        "\n%{http_code}",
        payload_url,
        root=site.pebble.root,
    )
    answer, _, code = delivered.stdout.rpartition("\n")
    assert code == "200", delivered.stdout + delivered.stderr
    (made,) = json.loads(answer)["data"]["deployments"]

    def done() -> dict[str, Any] | None:
        found = {d["id"]: d for d in server.deployments(app["id"])}[made["deploymentId"]]
        return found if found["status"] in ("success", "failed") else None

    finished = await asyncio.to_thread(wait_until, done, 120, "the pushed deployment")
    assert (finished["status"], finished["commit_hash"], finished["triggered_by"]) == (
        "success",
        sha,
        "webhook",
    )
    assert issuer(site, API_HOST).startswith("Pebble Intermediate CA")

    # Plain HTTP to the API redirects; over HTTPS the cookie is __Host- and Secure.
    status, _, head = await asyncio.to_thread(site.http, API_HOST, "/api/health")
    assert status == 308 and f"https://{API_HOST}:{site.https_port}/api/health" in head
    login = ["-X", "POST", "-H", "Content-Type: application/json"]
    good = json.dumps({"username": "admin", "password": "a long password"})
    status, _, head = await asyncio.to_thread(
        site.https, API_HOST, "/api/auth/login", *login, "-d", good
    )
    assert status == 200
    cookie = next(line for line in head.splitlines() if line.startswith("set-cookie:"))
    assert cookie.startswith("set-cookie: __host-fogbank_session=")
    assert "secure" in cookie and "httponly" in cookie and "path=/" in cookie

    # A forged X-Forwarded-For does not get past the edge: it writes the real client's address,
    # so changing the forged one never escapes the per-address budget (3 failures a minute here;
    # a new username each time, so only that budget can bite).
    codes = []
    for number in range(4):
        bad = json.dumps({"username": f"nobody{number}", "password": "wrong"})
        forging = ["-H", f"X-Forwarded-For: 203.0.113.{number + 1}", "-d", bad]
        status, _, _ = await asyncio.to_thread(
            site.https, API_HOST, "/api/auth/login", *login, *forging
        )
        codes.append(status)
    assert codes == [401, 401, 401, 429]
