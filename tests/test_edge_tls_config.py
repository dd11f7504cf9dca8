"""The edge's HTTPS configs (pure functions): the front ends TLS with certificates on demand,
the switch redirects plain HTTP and answers the front's "may this host get a certificate?",
and fogbank's API at its public URL is routed straight to fogbank."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from controller.config import ServerSettings, Settings
from controller.edge.config import (
    ASK_ENTRY,
    ENTRY_HEADER,
    HTTPS_ENTRY,
    caddy_config,
    front_config,
    switch_config,
)
from controller.edge.layout import ApiSite, api_site
from controller.edge.tls import ASK_PATH
from tests.test_edge_config import API, LAYOUT, ROUTES, TLS, dials, policies, servers


def test_tls_front_ends_tls_and_gets_certificates_on_demand() -> None:
    front = front_config(ROUTES, replace(TLS, api=API))
    https = servers(front)["https"]
    assert https["listen"] == ["127.0.0.1:8443"]
    assert https["tls_connection_policies"] == [{}]
    assert https["automatic_https"] == {"disable_redirects": True}
    api_route, to_switch = https["routes"]
    assert api_route["match"] == [{"host": ["deploy.example.com"]}]
    assert dials(api_route) == ["127.0.0.1:8080"]  # the API: straight to fogbank
    assert to_switch["handle"][0]["headers"]["request"]["set"][ENTRY_HEADER] == [HTTPS_ENTRY]
    ask, api_redirect, plain = servers(front)["domains"]["routes"]
    assert ask["match"] == [
        {"path": [ASK_PATH], "remote_ip": {"ranges": ["127.0.0.0/8", "::1/128"]}}
    ]
    assert ask["handle"][0]["headers"]["request"]["set"][ENTRY_HEADER] == [ASK_ENTRY]
    assert api_redirect["handle"][0]["status_code"] == 308
    assert api_redirect["handle"][0]["headers"]["Location"] == [
        "https://{http.request.host}:8443{http.request.uri}"
    ]
    assert plain["handle"][0]["upstreams"] == [{"dial": "unix//srv/caddy/switch.sock"}]
    apps = front["apps"]
    assert (apps["http"]["http_port"], apps["http"]["https_port"]) == (8100, 8443)
    (policy,) = apps["tls"]["automation"]["policies"]
    assert policy["on_demand"] is True and "subjects" not in policy
    assert policy["issuers"] == [
        {
            "module": "acme",
            "ca": "https://acme-v02.api.letsencrypt.org/directory",
            "email": "ops@example.com",
            "challenges": {
                "bind_host": "127.0.0.1",
                "http": {"alternate_port": 8100},
                "tls-alpn": {"alternate_port": 8443},
            },
        }
    ]
    assert apps["tls"]["automation"]["on_demand"] == {"ask": f"http://127.0.0.1:8100{ASK_PATH}"}
    internal = replace(TLS, settings=TLS.settings.model_copy(update={"tls": "internal"}))
    assert policies(front_config([], internal))[0]["issuers"] == [{"module": "internal"}]
    rooted = replace(TLS, settings=TLS.settings.model_copy(update={"acme_ca_root": "/ca.pem"}))
    assert policies(front_config([], rooted))[0]["issuers"][0]["trusted_roots_pem_files"] == [
        "/ca.pem"
    ]
    assert "tls" not in front_config([], LAYOUT)["apps"]


def test_tls_switch_redirects_http_and_answers_the_ask() -> None:
    (server,) = servers(switch_config(ROUTES, replace(TLS, api=API))).values()
    by_entry: dict[str, list[dict[str, Any]]] = {}
    for route in server["routes"][:-1]:
        by_entry.setdefault(route["match"][0]["header"][ENTRY_HEADER][0], []).append(route)
    assert [r["handle"][0]["status_code"] for r in by_entry["domains"]] == [308, 308]
    https = by_entry[HTTPS_ENTRY]
    assert [dials(r) for r in https] == [["127.0.0.1:40001"], ["127.0.0.1:40002"]]
    assert https[0]["handle"][0]["headers"]["request"]["set"]["X-Forwarded-Proto"] == ["https"]
    (ask,) = by_entry[ASK_ENTRY]
    assert ask["match"][0]["query"] == {
        "domain": [
            "blog.example.com",
            "deploy.example.com",
            "shop.example.com",
            "www.shop.example.com",
        ]
    }
    assert ask["handle"][0]["status_code"] == 200
    # No domain, no API host: no ask route, so every ask gets the 404 that refuses it.
    (bare,) = servers(switch_config([], TLS)).values()
    assert [r.get("match") for r in bare["routes"]] == [None]


def test_unmanaged_tls_answers_the_ask_itself() -> None:
    unmanaged_tls = replace(TLS, settings=TLS.settings.model_copy(update={"manage": False}))
    config = caddy_config(ROUTES, unmanaged_tls)
    ask = servers(config)["domains"]["routes"][0]
    assert ask["match"][0]["path"] == [ASK_PATH]
    assert ask["match"][0]["query"]["domain"][0] == "blog.example.com"
    https_routes = servers(config)["https"]["routes"]
    assert [dials(r) for r in https_routes[:-1]] == [["127.0.0.1:40001"], ["127.0.0.1:40002"]]


def test_the_api_site_follows_public_url() -> None:
    assert api_site(Settings()) is None
    site = api_site(Settings(server=ServerSettings(public_url="https://Deploy.Example.com")))
    assert site == ApiSite("deploy.example.com", True, "127.0.0.1:8080")
    wildcard = ServerSettings(host="0.0.0.0", port=9000, public_url="http://d.example.com:81/")  # noqa: S104
    assert api_site(Settings(server=wildcard)) == ApiSite("d.example.com", False, "127.0.0.1:9000")
    # Plain public URL, TLS off: the API on edge.http_port, no redirect.
    front = front_config([], replace(LAYOUT, api=ApiSite("d.example.com", False, "127.0.0.1:9000")))
    api_route, _ = servers(front)["domains"]["routes"]
    assert dials(api_route) == ["127.0.0.1:9000"]
