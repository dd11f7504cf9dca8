"""Behind a proxy: X-Forwarded-For and -Proto are believed only from server.trusted_proxies (the
login limiter's address, the cookie's scheme); the session cookie is Secure and __Host- prefixed
with an https public URL; the webhook payload URL follows the public URL; /api/ready names what
is down (a Docker socket that never answers, here)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.testing import app as quart_testing

from api.app import create_app
from controller.accounts import auth
from controller.config import Settings
from controller.runtime.engine import Engine
from controller.store.models import Role
from tests.support.api import signup_admin

pytestmark = pytest.mark.slow  # each app starts its edge (Caddy)

PEER = {"client": ("127.0.0.1", 40000)}
NAMES = itertools.count()  # the direct peer: the edge, on this machine


@contextlib.asynccontextmanager
async def started(settings: Settings, engine: Engine | None = None) -> AsyncIterator[QuartClient]:
    quart_app: Quart = create_app(settings, engine=engine)
    # A hung Docker costs start-up a read timeout per call (ping, then recovery): more than
    # Quart's 6 s default, and not what these tests measure.
    async with quart_testing.TestApp(quart_app, startup_timeout=60, shutdown_timeout=60):
        yield QuartClient(quart_app)


async def failed_login(client: QuartClient, forwarded_for: str) -> int:
    """A failed login under a new username each time: only the per-address budget can bite."""
    response = await client.post(
        "/api/auth/login",
        json={"username": f"nobody{next(NAMES)}", "password": "wrong password"},
        headers={"X-Forwarded-For": forwarded_for},
        scope_base=PEER,
    )
    return response.status_code


def with_sections(settings: Settings, **sections: dict[str, object]) -> Settings:
    """`settings` with these keys changed, each changed section validated again."""
    changed = {
        name: type(getattr(settings, name)).model_validate(
            {**getattr(settings, name).model_dump(), **values}
        )
        for name, values in sections.items()
    }
    return settings.model_copy(update=changed)


def limited(settings: Settings, trusted: tuple[str, ...]) -> Settings:
    return with_sections(
        settings,
        auth={"login_failures_per_address_per_minute": 2},
        server={"trusted_proxies": trusted},
    )


async def test_a_forged_forwarded_for_does_not_change_the_limiters_address(
    settings: Settings,
) -> None:
    """Protection: remove the trusted-peer check in api/proxy.py and the third login is 401."""
    async with started(limited(settings, ())) as client:
        assert [await failed_login(client, "203.0.113.1") for _ in range(2)] == [401, 401]
        # A new X-Forwarded-For each time: still the one peer address, so limited.
        assert await failed_login(client, "198.51.100.7") == 429


async def test_a_trusted_proxys_forwarded_for_is_the_limiters_address(settings: Settings) -> None:
    async with started(limited(settings, ("127.0.0.1",))) as client:
        assert [await failed_login(client, "203.0.113.1") for _ in range(2)] == [401, 401]
        assert await failed_login(client, "198.51.100.7") == 401  # another client
        assert await failed_login(client, "203.0.113.1") == 429
        # The nearest address that is not itself a trusted proxy is the client.
        assert await failed_login(client, "203.0.113.1, 127.0.0.1") == 429


async def login_cookie(client: QuartClient) -> str:
    await auth.create_user("yan", "password123", Role.VIEWER)
    response = await client.post(
        "/api/auth/login",
        json={"username": "yan", "password": "password123"},
        scope_base=PEER,
    )
    assert response.status_code == 200
    return response.headers["Set-Cookie"]


async def test_the_cookie_is_secure_and_host_prefixed_with_an_https_public_url(
    settings: Settings,
) -> None:
    public = with_sections(settings, server={"public_url": "https://d.example.com"})
    async with started(public) as client:
        cookie = await login_cookie(client)
        assert cookie.startswith("__Host-fogbank_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
        assert "Domain" not in cookie
        me = await client.get("/api/auth/me")  # the client sends the cookie back under its name
        assert me.status_code == 200


async def test_without_public_url_the_scheme_decides_secure(settings: Settings) -> None:
    trusting = with_sections(settings, server={"trusted_proxies": ("127.0.0.1",)})
    async with started(trusting) as client:
        plain = await login_cookie(client)
        assert plain.startswith("fogbank_session=") and "Secure" not in plain
        # X-Forwarded-Proto from the trusted edge: the browser spoke https.
        response = await client.post(
            "/api/auth/login",
            json={"username": "yan", "password": "password123"},
            headers={"X-Forwarded-Proto": "https"},
            scope_base=PEER,
        )
        assert "Secure" in response.headers["Set-Cookie"]
        # The same header from an untrusted peer is ignored.
        response = await client.post(
            "/api/auth/login",
            json={"username": "yan", "password": "password123"},
            headers={"X-Forwarded-Proto": "https"},
            scope_base={"client": ("192.0.2.9", 40000)},
        )
        assert "Secure" not in response.headers["Set-Cookie"]


async def test_the_payload_url_is_built_from_the_public_url(settings: Settings) -> None:
    public = with_sections(settings, server={"public_url": "https://deploy.example.com:8443"})
    async with started(public) as client:
        headers = await signup_admin(client)
        created = await client.post(
            "/api/apps/create",
            json={"name": "hooked", "gitRepository": "https://example.com/a.git"},
            headers=headers,
        )
        app_id = (await created.get_json())["data"]["id"]
        answer = await client.post("/api/apps/webhook", json={"appId": app_id}, headers=headers)
        data = (await answer.get_json())["data"]
        assert data["payloadUrl"] == "https://deploy.example.com:8443/webhooks/github/hooked"


async def test_ready_answers_200_when_everything_answers(client: QuartClient) -> None:
    response = await client.get("/api/ready")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["data"] == {"database": "ok", "docker": "ok", "edge": "ok"}


async def test_ready_names_docker_when_its_socket_never_answers(
    settings: Settings, tmp_path: Path
) -> None:
    """A unix socket that accepts connections and never answers stands in for a hung daemon."""
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as hung:
        hung.bind(str(path))
        hung.listen(64)
        dead = docker.DockerClient(base_url=f"unix://{path}", version="1.41", timeout=2)
        async with started(settings, engine=Engine(dead)) as client:
            loop = asyncio.get_running_loop()
            began = loop.time()
            responses = await asyncio.gather(*(client.get("/api/ready") for _ in range(3)))
            took = loop.time() - began
            assert {r.status_code for r in responses} == {503}
            body = await responses[0].get_json()
            assert body["success"] is False and body["error"] == "NOT_READY"
            assert body["message"] == "not ready: docker down"
            assert took < 10, f"the readiness answer took {took:.1f} s"
            health = await client.get("/api/health")
            assert health.status_code == 200  # alive, just not ready
        dead.close()
