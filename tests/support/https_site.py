"""fogbank behind its edge over HTTPS, certificates from a real pebble: a server whose public
URL is https://deploy.example.com:<port>, with an admin and a token, and curl/ssl helpers that
reach any test host on 127.0.0.1 and verify against pebble's root (test_edge_https,
test_edge_dashboard)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.pebble import Pebble, curl, running_pebble
from tests.support.ports import free_port
from tests.support.server import Server, cli, wait_until

API_HOST = "deploy.example.com"
ADMIN_PASSWORD = "a long password"


@dataclass
class Site:
    server: Server
    pebble: Pebble
    http_port: int
    https_port: int
    data_dir: Path

    @property
    def public_url(self) -> str:
        return f"https://{API_HOST}:{self.https_port}"

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
        return answer(curl("-i", *self.resolve(host), *extra, url, root=self.pebble.root))

    def http(self, host: str, path: str = "/") -> tuple[int, str, str]:
        url = f"http://{host}:{self.http_port}{path}"
        return answer(curl("-i", *self.resolve(host), url, root=self.pebble.root))

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.pebble.root))

    def edge_files(self) -> dict[str, bytes]:
        directory = self.data_dir / "caddy"
        return {name: (directory / name).read_bytes() for name in ("front.json", "front.pid")}


def answer(result: Any) -> tuple[int, str, str]:
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    return int(head.split()[1]), body, head.lower()


def issuer(site: Site, host: str) -> str:
    """The issuer's common name of the certificate the edge presents for `host`."""
    with (
        socket.create_connection(("127.0.0.1", site.https_port), timeout=10) as raw,
        site.tls_context().wrap_socket(raw, server_hostname=host) as tls,
    ):
        certificate = tls.getpeercert()
    assert certificate is not None
    for rdn in certificate["issuer"]:
        for pair in rdn:
            if pair[0] == "commonName":
                return str(pair[1])
    raise AssertionError(f"no issuer common name in {certificate}")


@contextmanager
def https_site(tmp_path: Path) -> Iterator[Site]:
    """A running fogbank with ACME from pebble, its API at the https public URL."""
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
        cli("user", "create", *admin, config=config, stdin=ADMIN_PASSWORD + "\n")
        server = Server(config, port, tmp_path / "server.log")
        server.token = cli("token", "create", "--username", "admin", "--name", "t", config=config)
        try:
            server.start()
            yield Site(server, pebble, http_port, https_port, data_dir)
        finally:
            server.stop_quietly()


def deploy(site: Site, app_id: int) -> dict[str, Any]:
    """Request a deployment through the API and wait for it to succeed."""
    started = site.server.call("POST", "/api/deployment/add", {"appId": app_id})

    def done() -> dict[str, Any] | None:
        found = {d["id"]: d for d in site.server.deployments(app_id)}.get(started["id"])
        return found if found and found["status"] in ("success", "failed") else None

    finished = wait_until(done, 120, "deployment")
    assert finished["status"] == "success", finished
    return finished
