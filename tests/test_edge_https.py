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
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.github import push
from tests.support.load import SteadyLoad
from tests.support.pebble import Pebble, curl, running_pebble
from tests.support.ports import free_port
from tests.support.repos import GitRepo
from tests.support.server import Server, cli, wait_until
from webhooks.signature import sign

pytestmark = pytest.mark.slow

API_HOST = "deploy.example.com"


@dataclass
class Site:
    server: Server
    pebble: Pebble
    http_port: int
    https_port: int
    data_dir: Path

    def resolve(self, host: str) -> list[str]:
        return [
            "--resolve",
            f"{host}:{self.https_port}:127.0.0.1",
            "--resolve",
            f"{host}:{self.http_port}:127.0.0.1",
        ]

    def https(self, host: str, path: str = "/", *extra: str) -> tuple[int, str, str]:
        """(status, body, headers) of a GET over HTTPS, verified against pebble's root."""
        url = f"https://{host}:{self.https_port}{path}"
        return _answer(curl("-i", *self.resolve(host), *extra, url, root=self.pebble.root))

    def http(self, host: str, path: str = "/") -> tuple[int, str, str]:
        url = f"http://{host}:{self.http_port}{path}"
        return _answer(curl("-i", *self.resolve(host), url, root=self.pebble.root))

    def edge_files(self) -> dict[str, bytes]:
        directory = self.data_dir / "caddy"
        return {name: (directory / name).read_bytes() for name in ("front.json", "front.pid")}


def _answer(result: Any) -> tuple[int, str, str]:
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    return int(head.split()[1]), body, head.lower()


def issuer(site: Site, host: str) -> str:
    """The issuer's common name of the certificate the edge presents for `host`."""
    context = ssl.create_default_context(cafile=str(site.pebble.root))
    with (
        socket.create_connection(("127.0.0.1", site.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        certificate = tls.getpeercert()
    assert certificate is not None
    for rdn in certificate["issuer"]:
        for pair in rdn:
            if pair[0] == "commonName":
                return str(pair[1])
    raise AssertionError(f"no issuer common name in {certificate}")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    port, http_port, https_port = free_port(), free_port(), free_port()
    with running_pebble(tmp_path / "pebble", http_port=http_port, tls_port=https_port) as pebble:
        data_dir = tmp_path / "data"
        config = tmp_path / "config.toml"
        config.write_text(
            f"[server]\nport = {port}\n"
            f'public_url = "https://{API_HOST}:{https_port}"\ntrusted_proxies = ["127.0.0.1"]\n'
            f'[storage]\ndata_dir = "{data_dir}"\n'
            "[git]\nallow_local = true\n[controller]\nworkers = 1\n"
            "[auth]\nlogin_failures_per_address_per_minute = 3\n"
            f'[edge]\nhttp_port = {http_port}\nhttps_port = {https_port}\ntls = "acme"\n'
            f'acme_ca = "{pebble.directory_url}"\nacme_ca_root = "{pebble.listen_cert}"\n'
            'acme_email = "ops@example.com"\n'
        )
        admin = ["--username", "admin", "--role", "admin", "--password-stdin"]
        cli("user", "create", *admin, config=config, stdin="a long password\n")
        server = Server(config, port, tmp_path / "server.log")
        server.token = cli("token", "create", "--username", "admin", "--name", "t", config=config)
        try:
            server.start()
            yield Site(server, pebble, http_port, https_port, data_dir)
        finally:
            server.stop_quietly()


def deploy(site: Site, app_id: int) -> dict[str, Any]:
    started = site.server.call("POST", "/api/deployment/add", {"appId": app_id})

    def done() -> dict[str, Any] | None:
        found = {d["id"]: d for d in site.server.deployments(app_id)}.get(started["id"])
        return found if found and found["status"] in ("success", "failed") else None

    finished = wait_until(done, 120, "deployment")
    assert finished["status"] == "success", finished
    return finished


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
    payload_url = f"https://{API_HOST}:{site.https_port}/webhooks/github"
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
