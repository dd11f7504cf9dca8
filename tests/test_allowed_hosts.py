"""The Host allow-list in front of the app (api/hosts.py), on its own: allowed names with or
without a port, the configured ones, IP literals on a wildcard bind, and the 421 envelope."""

from __future__ import annotations

import json
from typing import Any, cast

from api.hosts import HostGuard

Message = dict[str, Any]


async def answer(guard: HostGuard, host: str | None, kind: str = "http") -> list[Message]:
    sent: list[Message] = []
    headers = [] if host is None else [(b"host", host.encode())]

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Any = {"type": kind, "headers": headers, "path": "/"}
    await guard(scope, cast(Any, receive), cast(Any, send))
    return sent


async def reached(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "reached"})


def guard(server_host: str = "127.0.0.1", extra: tuple[str, ...] = ()) -> HostGuard:
    return HostGuard(cast(Any, reached), server_host, extra)


async def test_loopback_names_and_configured_hosts_pass() -> None:
    allowed = guard("10.1.2.3", ("deploy.example.com", "Admin.Example.org:8443"))
    for host in (
        "localhost",
        "localhost:8080",
        "127.0.0.1:8080",
        "[::1]:8080",
        "10.1.2.3:8080",
        "deploy.example.com",
        "DEPLOY.example.com.:443",
        "admin.example.org",
    ):
        assert await answer(allowed, host) == [{"type": "reached"}], host


async def test_other_names_get_421_in_the_envelope() -> None:
    """Protection: HostGuard in front of the app (without it a rebinding name is answered)."""
    for host in (
        "attacker.example",
        "attacker.example:8080",
        "127.0.0.1.attacker.example",
        "",
        None,
    ):
        sent = await answer(guard(), host)
        assert sent[0]["status"] == 421, host
        body = json.loads(sent[1]["body"])
        assert body["success"] is False and body["data"] is None
        assert body["error"] == "HOST_NOT_ALLOWED"
        assert "server.allowed_hosts" in body["message"]


async def test_a_websocket_with_another_host_is_closed_before_it_opens() -> None:
    sent = await answer(guard(), "attacker.example", kind="websocket")
    assert sent == [{"type": "websocket.close", "code": 4400, "reason": ""}]


async def test_a_wildcard_bind_also_answers_ip_literals_but_not_names() -> None:
    wildcard = guard("0.0.0.0")  # noqa: S104 - a setting compared, nothing is bound
    assert await answer(wildcard, "203.0.113.7:8080") == [{"type": "reached"}]
    assert await answer(wildcard, "[2001:db8::1]:8080") == [{"type": "reached"}]
    assert (await answer(wildcard, "rebound.example"))[0]["status"] == 421
    assert (await answer(guard(), "203.0.113.7"))[0]["status"] == 421
