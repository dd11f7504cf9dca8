"""The Swarm backend's pure parts: its settings, the edge spreading an app over several
upstreams (its tasks) with a failed dial retried on another, and drift repair's reading of a
live service against fogbank's spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from controller.config import EdgeSettings, RuntimeSettings, Settings
from controller.edge.config import caddy_config
from controller.edge.layout import EdgeLayout, EdgePaths, Route
from controller.runtime.swarm.client import task_ports
from controller.runtime.swarm.compare import differences, engine_spec, settled
from controller.runtime.swarm.spec import service_spec
from controller.store.models import App, AppType, Deployment, EnvVar

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


def fogbank_spec(replicas: int = 2) -> dict[str, Any]:
    """What fogbank sends for a web app's deployment, in the engine's JSON form."""
    app = App(id=1, name="shop", port=3000, app_type=AppType.WEB)
    deployment = Deployment(id=7, deployment_number=2, commit_hash="abc")
    envs = [
        EnvVar(key="B", value="2", is_build_arg=False, is_secret=False),
        EnvVar(key="A", value="1", is_build_arg=False, is_secret=True),
    ]
    runtime = RuntimeSettings(backend="swarm", registry="127.0.0.1:5000", replicas=replicas)
    image = "127.0.0.1:5000/fogbank/shop:7@sha256:" + "a" * 64
    return engine_spec(service_spec(app, envs, deployment, image, runtime, 1.0, 10))


def as_the_engine_reports(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as `docker service inspect` shows it: JSON, with the engine's own defaults
    (Isolation, Runtime, ForceUpdate, Window), empty sections and zero values left out, and
    the variables in another order."""
    live: dict[str, Any] = json.loads(json.dumps(spec))
    template = live["TaskTemplate"]
    template["ContainerSpec"]["Isolation"] = "default"
    template["ContainerSpec"]["Env"].reverse()
    template.update(ForceUpdate=0, Runtime="container")
    del template["Resources"]  # {} is not stored
    del live["UpdateConfig"]["MaxFailureRatio"]
    live["EndpointSpec"]["Ports"][0]["PublishedPort"] = 0
    return live


def test_an_untouched_service_reads_as_fogbanks_spec() -> None:
    assert differences(fogbank_spec(), as_the_engine_reports(fogbank_spec())) == []


def test_what_was_changed_by_hand_is_named() -> None:
    live = as_the_engine_reports(fogbank_spec())
    container = live["TaskTemplate"]["ContainerSpec"]
    container["Image"] = "127.0.0.1:5000/other:1@sha256:" + "b" * 64
    container["Env"].append("BY_HAND=1")
    live["Mode"]["Replicated"]["Replicas"] = 5
    live["Labels"]["added"] = "by hand"
    live["TaskTemplate"]["Resources"] = {"Limits": {"MemoryBytes": 1 << 20}}
    live["UpdateConfig"]["FailureAction"] = "pause"
    live["EndpointSpec"]["Ports"][0]["PublishMode"] = "ingress"
    assert differences(fogbank_spec(), live) == [
        "image",
        "replicas",
        "env",
        "labels",
        "update config",
        "resources",
        "published ports",
    ]


def test_an_update_settles_when_every_kept_task_runs_the_current_template() -> None:
    live = as_the_engine_reports(fogbank_spec())
    current = {k: v for k, v in live["TaskTemplate"].items() if k != "Runtime"}
    previous = json.loads(json.dumps(current))
    previous["ContainerSpec"]["Env"] = ["BY_HAND=1"]

    def task(spec: dict[str, Any], desired: str = "running", state: str = "running") -> Any:
        return {"Spec": spec, "DesiredState": desired, "Status": {"State": state}}

    attrs = {"Spec": live}
    assert settled(attrs, [task(current), task(current), task(previous, "shutdown")])
    assert not settled(attrs, [task(current), task(previous)])  # an old task still kept
    assert not settled(attrs, [task(current), task(current, state="starting")])  # not healthy
    assert not settled(attrs, [task(current)])  # one of two replicas
