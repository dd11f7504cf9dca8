"""The Caddy configs the edge computes (pure functions) and the edge settings' rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from controller.config import EdgeSettings, load_settings
from controller.edge.config import (
    CLIENT_HEADER,
    ENTRY_HEADER,
    caddy_config,
    front_config,
    switch_config,
)
from controller.edge.layout import ApiSite, EdgeLayout, EdgePaths, Route
from controller.errors import ConfigError, EdgeError

SETTINGS = EdgeSettings(
    admin_url="http://127.0.0.1:2999", http_port=8100, https_port=8443, drain_seconds=1.5
)
LAYOUT = EdgeLayout(SETTINGS, EdgePaths(Path("/srv/caddy")))
UNMANAGED = replace(LAYOUT, settings=SETTINGS.model_copy(update={"manage": False}))
TLS = replace(
    LAYOUT, settings=SETTINGS.model_copy(update={"tls": "acme", "acme_email": "ops@example.com"})
)
API = ApiSite("deploy.example.com", True, "127.0.0.1:8080")
ROUTES = [
    Route("shop", 40001, ("shop.example.com", "www.shop.example.com"), 9001),
    Route("blog", 40002, ("blog.example.com",), None),
    Route("api", 40003, (), 9003),
]


def dials(route: dict[str, Any]) -> list[str]:
    return [upstream["dial"] for upstream in route["handle"][0]["upstreams"]]


def servers(config: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = config["apps"]["http"]["servers"]
    return found


def policies(config: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = config["apps"]["tls"]["automation"]["policies"]
    return found


def test_single_layer_config() -> None:
    config = caddy_config(ROUTES, UNMANAGED)
    assert config["admin"] == {"listen": "127.0.0.1:2999", "config": {"persist": False}}
    http = config["apps"]["http"]
    assert http["grace_period"] == "1.5s"
    assert set(http["servers"]) == {"domains", "public-9001", "public-9003"}
    for server in http["servers"].values():
        assert server["automatic_https"] == {"disable": True}
        assert "logs" not in server  # no access log at all
    domains = http["servers"]["domains"]
    assert domains["listen"] == ["127.0.0.1:8100"]
    matched = [r for r in domains["routes"] if "match" in r]
    assert [r["match"][0]["host"] for r in matched] == [
        ["shop.example.com", "www.shop.example.com"],
        ["blog.example.com"],
    ]
    assert [dials(r) for r in matched] == [["127.0.0.1:40001"], ["127.0.0.1:40002"]]
    assert all(r["terminal"] for r in matched)
    fallback = domains["routes"][-1]
    assert "match" not in fallback and fallback["handle"][0]["status_code"] == 404
    assert servers(config)["public-9003"]["listen"] == ["127.0.0.1:9003"]
    assert [dials(r) for r in servers(config)["public-9003"]["routes"]] == [["127.0.0.1:40003"]]
    assert servers(caddy_config([], UNMANAGED))["domains"]["routes"] == [fallback]
    ipv6 = replace(
        UNMANAGED, settings=UNMANAGED.settings.model_copy(update={"bind_address": "::1"})
    )
    assert servers(caddy_config([], ipv6))["domains"]["listen"] == ["[::1]:8100"]


def test_front_depends_only_on_the_ports() -> None:
    front = front_config(ROUTES, LAYOUT)
    # The admin API is a unix socket in the edge's private directory: no TCP admin port.
    assert front["admin"] == {
        "listen": "unix//srv/caddy/front-admin.sock",
        "origins": ["caddy"],
        "config": {"persist": False},
    }
    assert front["logging"]["logs"]["default"]["writer"]["filename"] == "/srv/caddy/front.log"
    assert front["logging"]["logs"]["default"]["writer"]["roll_size_mb"] == 10
    assert {name: s["listen"] for name, s in servers(front).items()} == {
        "domains": ["127.0.0.1:8100"],
        "port-9001": ["127.0.0.1:9001"],
        "port-9003": ["127.0.0.1:9003"],
    }
    for server in servers(front).values():
        assert server["automatic_https"] == {"disable": True} and "logs" not in server
        (route,) = server["routes"]
        proxy = route["handle"][0]
        assert dials(route) == ["unix//srv/caddy/switch.sock"]
        assert proxy["transport"]["keep_alive"] == {"enabled": False}
        assert proxy["load_balancing"]["try_duration"]
        assert proxy["headers"]["request"]["set"][CLIENT_HEADER] == ["{http.request.remote.host}"]
    # A deploy (new upstream ports) or a domain change leaves the front as it is, with TLS too.
    moved = [
        Route("shop", 50001, ("other.example.com",), 9001),
        Route("blog", 50002, (), None),
        Route("api", 50003, (), 9003),
    ]
    assert front_config(moved, LAYOUT) == front
    assert front_config(moved, TLS) == front_config(ROUTES, TLS)


def test_switch_routes_entries_to_upstreams() -> None:
    switch = switch_config(ROUTES, LAYOUT)
    assert switch["admin"] == {
        "listen": "unix//srv/caddy/switch-admin.sock",
        "origins": ["caddy"],
        "config": {"persist": False},
    }
    (server,) = servers(switch).values()
    assert server["listen"] == ["unix//srv/caddy/switch.sock"]
    *table, fallback = server["routes"]
    assert [r["match"] for r in table] == [
        [{"header": {ENTRY_HEADER: ["port-9001"]}}],
        [{"header": {ENTRY_HEADER: ["port-9003"]}}],
        [
            {
                "header": {ENTRY_HEADER: ["domains"]},
                "host": ["shop.example.com", "www.shop.example.com"],
            }
        ],
        [{"header": {ENTRY_HEADER: ["domains"]}, "host": ["blog.example.com"]}],
    ]
    assert [dials(r) for r in table] == [
        ["127.0.0.1:40001"],
        ["127.0.0.1:40003"],
        ["127.0.0.1:40001"],
        ["127.0.0.1:40002"],
    ]
    for route in table:
        headers = route["handle"][0]["headers"]["request"]
        assert set(headers["delete"]) == {ENTRY_HEADER, CLIENT_HEADER}
        assert headers["set"]["X-Forwarded-For"] == [f"{{http.request.header.{CLIENT_HEADER}}}"]
        assert headers["set"]["X-Forwarded-Proto"] == ["http"]
    assert fallback["handle"][0]["status_code"] == 404


def test_configs_refuse_port_clashes() -> None:
    builders: list[tuple[Callable[[list[Route]], dict[str, Any]], tuple[int, ...]]] = [
        (lambda routes: caddy_config(routes, UNMANAGED), (8100, 2999)),
        (lambda routes: front_config(routes, LAYOUT), (8100,)),
        (lambda routes: switch_config(routes, LAYOUT), (8100,)),
        (lambda routes: front_config(routes, TLS), (8100, 8443)),
    ]
    for build, clashes in builders:
        for clash in clashes:
            with pytest.raises(EdgeError, match=f"public port {clash}"):
                build([Route("a", 40001, (), clash)])
        with pytest.raises(EdgeError, match="already used by app a"):
            build([Route("a", 40001, (), 9000), Route("b", 40002, (), 9000)])
    # A managed edge has no admin port: its old number is free for an app.
    assert "port-2999" in servers(front_config([Route("a", 40001, (), 2999)], LAYOUT))


@pytest.mark.parametrize(
    "url",
    [
        "http://0.0.0.0:2019",
        "http://10.1.2.3:2019",
        "http://example.com:2019",
        "https://127.0.0.1:2019",
        "http://127.0.0.1",
        "http://127.0.0.1:2019/prefix",
        "http://127.0.0.1:99999",
    ],
)
def test_admin_url_must_be_loopback(url: str) -> None:
    with pytest.raises(ValidationError, match=r"admin_url"):
        EdgeSettings(admin_url=url)
    with pytest.raises(ConfigError, match=r"edge\.admin_url"):
        load_settings(environ={"FOGBANK_EDGE__ADMIN_URL": url})


def test_loopback_admin_urls_are_accepted() -> None:
    for url in ("http://127.0.0.1:2019", "http://localhost:2020/", "http://[::1]:2021"):
        assert EdgeSettings(admin_url=url).admin_url == url
    loaded = load_settings(
        environ={"FOGBANK_EDGE__HTTP_PORT": "8200", "FOGBANK_EDGE__MANAGE": "false"}
    )
    assert (loaded.edge.http_port, loaded.edge.manage) == (8200, False)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"FOGBANK_EDGE__TLS": "on"}, "edge.tls"),
        ({"FOGBANK_EDGE__TLS": "acme", "FOGBANK_EDGE__HTTPS_PORT": "8000"}, "edge.https_port"),
        ({"FOGBANK_SERVER__PUBLIC_URL": "ftp://deploy.example.com"}, "server.public_url"),
        ({"FOGBANK_SERVER__PUBLIC_URL": "https://deploy.example.com/api"}, "server.public_url"),
        ({"FOGBANK_SERVER__PUBLIC_URL": "https://u:p@deploy.example.com"}, "server.public_url"),
        ({"FOGBANK_SERVER__TRUSTED_PROXIES": "127.0.0.1,nonsense"}, "server.trusted_proxies"),
        ({"FOGBANK_RUNTIME__LOG_MAX_SIZE": "10 MB"}, "runtime.log_max_size"),
        ({"FOGBANK_RUNTIME__LOG_MAX_FILES": "0"}, "log_max_files"),
    ],
)
def test_new_settings_refuse_bad_values(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(environ=environ)


def test_new_settings_load() -> None:
    loaded = load_settings(
        environ={
            "FOGBANK_EDGE__TLS": "acme",
            "FOGBANK_SERVER__TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
            "FOGBANK_RUNTIME__LOG_MAX_SIZE": "20m",
        }
    )
    assert (loaded.edge.tls, loaded.runtime.log_max_size) == ("acme", "20m")
    assert loaded.server.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
