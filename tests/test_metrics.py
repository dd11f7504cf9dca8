"""GET /metrics on a real app (Docker, git, the edge) after a deploy, a failed deploy, a burst
of webhook deliveries and a drift repair, parsed with prometheus_client's own parser: every
series is there, and its counts are the database's. Scrapers without the token are refused."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import docker
import pytest
from prometheus_client.parser import text_string_to_metric_families
from quart import Quart
from quart.testing import QuartClient

from controller.config import MetricsSettings, Settings
from controller.store.models import IN_FLIGHT, Deployment, Status
from tests.support.api import add_deployment, services_of, wait_terminal
from tests.support.deployed import DeployedWebApp
from tests.support.github import deliver, hook_of, push
from tests.support.repos import HTTPD_DOCKERFILE

pytestmark = pytest.mark.slow

SCRAPE_TOKEN = "a-prometheus-scrape-token"
BURST = 30
FAILING_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "false"]
"""
SERIES = {
    "fogbank_deployments_queued",
    "fogbank_deployments",
    "fogbank_deployments_superseded",
    "fogbank_deployment_duration_seconds",
    "fogbank_deployment_stage_duration_seconds",
    "fogbank_queue_wait_seconds",
    "fogbank_queue_depth",
    "fogbank_build_failures",
    "fogbank_webhook_deliveries",
    "fogbank_webhook_ack_seconds",
    "fogbank_websocket_watchers",
    "fogbank_drift_repairs",
    "fogbank_edge_switches",
    "fogbank_outbox_backlog",
    "fogbank_outbox_deliveries",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics": MetricsSettings(token=SCRAPE_TOKEN)})


def samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """sample name -> {sorted labels: value}."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def scrape(client: QuartClient, token: str | None = SCRAPE_TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.get("/metrics", headers=headers)


async def settle(app: Quart, app_id: int) -> None:
    """Until nothing is pending or running (in the database and in the workers)."""
    workers = services_of(app).controller.workers
    async with asyncio.timeout(180):
        # No single event says "all of them settled": ask the database and the workers.
        while (  # noqa: ASYNC110
            await Deployment.filter(status__in=(Status.PENDING, *IN_FLIGHT)).exists()
            or workers.running(app_id) is not None
        ):
            await asyncio.sleep(0.2)


async def test_metrics_after_a_deploy_a_failure_a_burst_and_a_repair(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    deployed = deployed_web_app
    headers = deployed.headers
    repo = deployed.repo
    repo.commit("break the build", {"Dockerfile": FAILING_DOCKERFILE})
    failed = await add_deployment(client, headers, deployed.app_id)
    assert (await wait_terminal(app, failed["id"])).status is Status.FAILED
    repo.commit("mend the build", {"Dockerfile": HTTPD_DOCKERFILE})
    hook = await hook_of(client, headers, deployed.app_id)  # the app's own URL and secret
    shas = [repo.commit(f"push {n}", {"www/index.html": f"push {n}\n"}) for n in range(BURST)]
    answers = await asyncio.gather(
        *(
            deliver(client, push(repo.url, "main", sha, f"push {n}"), hook)
            for n, sha in enumerate(shas)
        )
    )
    assert [a.status_code for a in answers] == [200] * BURST
    await settle(app, deployed.app_id)
    # A drift repair: the active container is gone.
    active = await Deployment.get(app_id=deployed.app_id, is_active=True)
    docker_client.containers.get(active.container_id).remove(force=True)
    await services_of(app).controller.drift.reconcile_all()

    response = await scrape(client)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = await response.get_data(as_text=True)
    names = {family.name for family in text_string_to_metric_families(text)}
    assert names >= SERIES
    found = samples(text)

    rows = await Deployment.filter(app_id=deployed.app_id)
    started = [d for d in rows if d.started_at is not None]
    ran = Counter((str(d.status), str(d.triggered_by)) for d in started)
    assert {
        (dict(labels)["status"], dict(labels)["trigger"]): value
        for labels, value in found["fogbank_deployments_total"].items()
    } == ran
    assert ran[("success", "manual")] == 1 and ran[("failed", "manual")] == 1
    queued = Counter(str(d.triggered_by) for d in rows)
    assert {
        dict(k)["trigger"]: v for k, v in found["fogbank_deployments_queued_total"].items()
    } == queued
    assert queued["webhook"] == BURST
    superseded = [d for d in rows if d.started_at is None and d.status is Status.STOPPED]
    assert found["fogbank_deployments_superseded_total"][()] == len(superseded)
    assert found["fogbank_build_failures_total"] == {(("cause", "build_failed"),): 1}
    assert found["fogbank_webhook_deliveries_total"] == {(("outcome", "accepted"),): BURST}
    assert found["fogbank_webhook_ack_seconds_count"][()] == BURST
    assert found["fogbank_queue_wait_seconds_count"][()] == len(started)
    assert found["fogbank_queue_depth"][()] == 0
    assert found["fogbank_websocket_watchers"][()] == 0
    for status in ("success", "failed"):
        count = sum(n for (s, _), n in ran.items() if s == status)
        assert found["fogbank_deployment_duration_seconds_count"][(("status", status),)] == count
    cloned = found["fogbank_deployment_stage_duration_seconds_count"][(("stage", "cloning_repo"),)]
    assert cloned == len(started)
    successes = sum(n for (s, _), n in ran.items() if s == "success")
    assert found["fogbank_edge_switches_total"] == {(("result", "switched"),): successes}
    assert found["fogbank_drift_repairs_total"] == {(("result", "repaired"),): 1}
    assert found["fogbank_outbox_backlog"][(("channel", "github"),)] == 0


async def test_metrics_refuse_a_scraper_without_the_token(app: Quart, client: QuartClient) -> None:
    missing = await scrape(client, None)
    assert missing.status_code == 401
    assert (await missing.get_json())["error"] == "UNAUTHORIZED"
    wrong = await scrape(client, "not-the-token")
    assert wrong.status_code == 401
    assert (await scrape(client)).status_code == 200
