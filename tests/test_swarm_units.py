"""The Swarm backend's pure parts: its settings, and the edge spreading an app over several
upstreams (its tasks) with a failed dial retried on another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from controller.config import EdgeSettings, RuntimeSettings, Settings
from controller.edge.config import caddy_config
from controller.edge.layout import EdgeLayout, EdgePaths, Route
from controller.runtime.swarm.client import task_ports

SETTINGS = EdgeSettings(admin_url="http://127.0.0.1:2999", http_port=8100)
LAYOUT = EdgeLayout(SETTINGS, EdgePaths(Path("/srv/caddy")))


def proxy_of(route: Route) -> dict[str, Any]:
    servers = caddy_config([route], LAYOUT)["apps"]["http"]["servers"]
    handler: dict[str, Any] = servers["public-9001"]["routes"][0]["handle"][0]
    return handler


def test_several_upstreams_retry_a_refused_dial_elsewhere() -> None:
    """Without the retry, a task Swarm stops would answer 502 until the edge drops it."""
    proxy = proxy_of(Route("shop", 40001, (), 9001, (40002, 40003)))
    dials = [upstream["dial"] for upstream in proxy["upstreams"]]
    assert dials == ["127.0.0.1:40001", "127.0.0.1:40002", "127.0.0.1:40003"]
    assert proxy["load_balancing"]["try_duration"] == "5s"
    assert proxy["health_checks"]["passive"]["max_fails"] == 1


def test_one_upstream_keeps_the_plain_proxy() -> None:
    proxy = proxy_of(Route("shop", 40001, (), 9001))
    assert proxy == {"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:40001"}]}


def test_docker_stays_the_default_backend() -> None:
    assert Settings().runtime.backend == "docker"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("backend", "kubernetes"),
        ("registry", "registry.example.com"),
        ("registry", "https://127.0.0.1:5000/v2"),
        ("replicas", 0),
        ("health_command", ""),
        ("health_command", "wget 'unclosed"),
    ],
)
def test_bad_runtime_settings_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        RuntimeSettings(**{field: value})


def test_health_path_stays_one_word() -> None:
    """The app's path goes in after splitting: spaces or quotes in it add no argument."""
    runtime = RuntimeSettings(health_command="wget -q -O /dev/null http://127.0.0.1:{port}{path}")
    argv = runtime.health_argv(3000, "/health check' --spider")
    assert argv == ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3000/health check' --spider"]


def test_task_ports_are_the_healthy_running_tasks_ipv4_ports() -> None:
    def task(desired: str, state: str, *ports: int) -> dict[str, Any]:
        published = [{"PublishedPort": port, "TargetPort": 3000} for port in ports]
        return {
            "DesiredState": desired,
            "Status": {"State": state, "PortStatus": {"Ports": published}},
        }

    tasks = [
        task("running", "running", 32801, 32802),  # 0.0.0.0 then [::]
        task("running", "starting", 32803, 32804),  # health check not passed yet
        task("shutdown", "running", 32805, 32806),  # being replaced
        task("running", "running", 32790, 32791),
    ]
    assert task_ports(tasks) == (32790, 32801)
