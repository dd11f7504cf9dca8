"""A real ACME CA for the HTTPS tests: Debian's `pebble` (Let's Encrypt's test server) with
`pebble-challtestsrv` answering DNS for every name with 127.0.0.1, so pebble validates HTTP-01
and TLS-ALPN-01 by connecting to the edge's own ports on loopback. Everything binds 127.0.0.1.

Pebble's directory is served over HTTPS with a certificate made here (Debian ships none);
Caddy trusts it through edge.acme_ca_root. Certificates pebble issues chain to a root it makes
at start, fetched from its management API (`/roots/0`) for curl and httpx to verify with."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port


@dataclass(frozen=True)
class Pebble:
    directory_url: str  # edge.acme_ca
    listen_cert: Path  # edge.acme_ca_root: what pebble's own HTTPS listener presents
    root: Path  # the root of every certificate pebble issues


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "pebble-listen.pem", directory / "pebble-listen.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _wait_for(
    url: str, verify: str, what: str, process: subprocess.Popen[bytes], log: Path
) -> bytes:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            context = ssl.create_default_context(cafile=verify)
            response = httpx.get(url, verify=context, timeout=2)
            if response.status_code == 200:
                return response.content
        time.sleep(0.1)
    raise AssertionError(f"{what} did not answer at {url}: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def running_pebble(directory: Path, *, http_port: int, tls_port: int) -> Iterator[Pebble]:
    """pebble and its DNS, validating challenges on http_port and tls_port of 127.0.0.1."""
    for binary in ("pebble", "pebble-challtestsrv"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is missing: install Debian's pebble (scripts/setup-host does)")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = _self_signed(directory)
    dns, dns_admin, acme, management = free_port(), free_port(), free_port(), free_port()
    config = directory / "pebble.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"127.0.0.1:{acme}",
                    "managementListenAddress": f"127.0.0.1:{management}",
                    "certificate": str(cert),
                    "privateKey": str(key),
                    "httpPort": http_port,
                    "tlsPort": tls_port,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        )
    )
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    dns_log, pebble_log = directory / "challtestsrv.log", directory / "pebble.log"
    with dns_log.open("ab") as out:
        challtestsrv = subprocess.Popen(
            [
                "pebble-challtestsrv",
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-dns01",
                f"127.0.0.1:{dns}",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                f"127.0.0.1:{dns_admin}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    with pebble_log.open("ab") as out:
        pebble = subprocess.Popen(
            ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{dns}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
        )
    try:
        _wait_for(f"https://127.0.0.1:{acme}/dir", str(cert), "pebble", pebble, pebble_log)
        root = directory / "pebble-root.pem"
        root.write_bytes(
            _wait_for(
                f"https://127.0.0.1:{management}/roots/0", str(cert), "pebble", pebble, pebble_log
            )
        )
        yield Pebble(f"https://127.0.0.1:{acme}/dir", cert, root)
    finally:
        for process in (pebble, challtestsrv):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def curl(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    """curl with pebble's root as the only trusted CA (-s: no progress; -S: errors)."""
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", "--cacert", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
    )
