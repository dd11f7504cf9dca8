"""The pure parts of reporting and telemetry: repository names on GitHub, rate-limit and retry
reading, what each deployment status becomes on GitHub, the metrics' scrape check, log lines in
text and JSON with their context, and the settings that refuse secrets in clear text."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from hypercorn.typing import Scope
from prometheus_client.parser import text_string_to_metric_families

from api.access import AccessLog, request_id
from api.routes.metrics import check_scraper
from controller.config import LogSettings, MetricsSettings, load_settings
from controller.errors import ConfigError, Forbidden, Unauthorized
from controller.notify.attempt import classify
from controller.notify.events import Event, commit_state, describe, final_event
from controller.notify.github import rate_limit
from controller.notify.outbox import backoff_seconds
from controller.notify.routing import web_host
from controller.notify.senders import signature
from controller.source.identity import github_repository
from controller.store.models import Deployment, Stage, Status
from controller.telemetry.logcontext import deployment_context
from controller.telemetry.logsetup import configure_logging
from controller.telemetry.metrics import Metrics
from webhooks.signature import sign


def answer(status: int, headers: dict[str, str] | None = None, text: str = "") -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, text=text)


def test_owner_and_name_come_from_urls_on_that_github_only() -> None:
    for url in (
        "https://github.com/Acme/Web.git",
        "git@github.com:acme/web.git",
        "ssh://git@github.com/acme/web",
    ):
        assert github_repository(url, web_host("https://api.github.com")) == "acme/web"
    enterprise = web_host("https://ghe.example.com/api/v3")
    assert github_repository("https://ghe.example.com/acme/web.git", enterprise) == "acme/web"
    assert github_repository("https://github.com/acme/web.git", enterprise) is None
    assert github_repository("https://gitlab.com/acme/web.git", "github.com") is None
    assert github_repository("file:///srv/acme/web", "github.com") is None
    assert github_repository("https://github.com/acme/web/tree/x", "github.com") is None


def test_rate_limits_are_read_as_github_documents_them() -> None:
    now = time.time()
    reset = str(int(now) + 30)
    assert rate_limit(
        answer(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    ) == int(reset)
    assert rate_limit(
        answer(201, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    ) == int(reset)
    assert rate_limit(answer(429, {"retry-after": "7"}), now) == now + 7
    assert (
        rate_limit(answer(403, text='{"message": "You have exceeded a secondary rate limit"}'), now)
        == now + 60
    )
    assert (
        rate_limit(answer(403, text='{"message": "Resource not accessible by integration"}'))
        is None
    )
    assert (
        rate_limit(answer(201, {"x-ratelimit-remaining": "4999", "x-ratelimit-reset": reset}))
        is None
    )


def test_answers_are_retried_or_refused() -> None:
    assert classify(answer(204)).ok
    assert not classify(answer(503)).permanent and not classify(answer(429)).permanent
    assert classify(answer(404)).permanent and classify(answer(301)).permanent
    assert classify(answer(500, {"retry-after": "120"})).not_before is not None
    assert [backoff_seconds(n, 2, 600) for n in (1, 2, 3, 10, 11)] == [2, 4, 8, 600, 600]


def test_each_status_becomes_a_github_state_and_a_notification() -> None:
    def made(status: Status, error: str = "") -> Deployment:
        return Deployment(
            id=7, app_id=1, deployment_number=3, status=status, stage=Stage.STARTING_NEW,
            error_message=error, duration=12,
        )  # fmt: skip

    assert commit_state(made(Status.PENDING)) == "pending"
    assert commit_state(made(Status.BUILDING)) == "pending"
    assert describe(made(Status.DEPLOYING)) == "Deployment #3: starting_new"
    assert (commit_state(made(Status.SUCCESS)), describe(made(Status.SUCCESS))) == (
        "success",
        "Deployed #3 in 12 s",
    )
    failed = made(Status.FAILED, "health check failed: " + "x" * 200)
    assert commit_state(failed) == "failure" and len(describe(failed)) == 140
    assert final_event(failed) is Event.FAILED
    assert final_event(made(Status.FAILED, "crashed after switch: exit code 1")) is Event.REVERTED
    assert final_event(made(Status.FAILED, "interrupted: controller restarted")) is None
    assert commit_state(made(Status.STOPPED, "stopped by admin")) == "error"
    assert final_event(made(Status.STOPPED, "stopped by admin")) is Event.STOPPED
    assert final_event(made(Status.STOPPED, "superseded by deployment #4")) is None


def test_the_webhook_signature_is_githubs() -> None:
    body = b'{"event": "deployment.failed"}'
    assert signature("s3cret", body) == sign("s3cret", body)


def test_metrics_are_served_by_token_or_address_and_to_nobody_by_default() -> None:
    with pytest.raises(Forbidden):
        check_scraper(MetricsSettings(), "", "127.0.0.1")  # nothing configured: refused
    by_token = MetricsSettings(token="t0ken")
    check_scraper(by_token, "Bearer t0ken", "203.0.113.9")
    for wrong in ("", "Bearer t0ken2", "Basic t0ken"):
        with pytest.raises(Unauthorized):
            check_scraper(by_token, wrong, "127.0.0.1")
    by_address = MetricsSettings(allow_from=("127.0.0.1/32", "10.0.0.0/8"))
    check_scraper(by_address, "", "10.1.2.3")
    with pytest.raises(Forbidden):
        check_scraper(by_address, "", "192.0.2.1")
    with pytest.raises(Forbidden):
        check_scraper(by_address, "", None)


def test_unlabelled_series_exist_before_anything_happened() -> None:
    text = Metrics().exposition().decode()
    values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert values["fogbank_deployments_superseded_total"] == 0
    assert values["fogbank_queue_depth"] == 0
    assert values["fogbank_webhook_ack_seconds_count"] == 0


def test_log_lines_carry_their_context_in_json_and_in_text() -> None:
    for fmt in ("json", "text"):
        stream = io.StringIO()
        configure_logging(LogSettings(format=fmt, level="INFO"), stream)
        logger = logging.getLogger("controller.deploy.progress")
        with deployment_context(42, "web"):
            logger.info("deployment #1 cloning_repo: Cloning repository...")
        logger.debug("not at INFO")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
        lines = stream.getvalue().splitlines()
        if fmt == "json":
            first, error = (json.loads(line) for line in lines)
            assert (first["deployment_id"], first["app"], first["level"]) == (42, "web", "INFO")
            assert "deployment_id" not in error and "ValueError: boom" in error["exception"]
        else:
            assert lines[0].endswith("Cloning repository... deployment_id=42 app=web")
            assert "Traceback" in stream.getvalue()
    configure_logging(LogSettings())


def test_the_default_handler_follows_sys_stderr_after_the_one_it_was_set_up_with_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test runner (or an in-process CLI runner) swaps sys.stderr and closes its own. Bound to
    that closed stream, every later record of any thread printed a "Logging error" traceback;
    on Python 3.11 that traceback's ast.parse, racing another thread's, raised SystemError
    ("AST constructor recursion depth mismatch") in a CI run."""
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    configure_logging(LogSettings())
    swapped.close()
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)
    worker = threading.Thread(target=lambda: logging.getLogger("mail.log").warning("Peer: x"))
    worker.start()
    worker.join()
    assert later.getvalue().endswith("WARNING mail.log: Peer: x\n")
    assert "Logging error" not in later.getvalue()


def test_a_request_id_from_outside_is_kept_only_when_it_is_a_plain_token() -> None:
    def scope(value: bytes) -> Scope:
        return cast(Scope, {"type": "http", "headers": [(b"x-request-id", value)]})

    assert request_id(scope(b"abc-123.DEF:9")) == "abc-123.DEF:9"
    for hostile in (b"a b", b"x" * 65, b'"quoted"', b"line\nbreak", b""):
        made = request_id(scope(hostile))
        assert len(made) == 16 and made.isalnum()


async def test_the_access_log_never_shows_the_query_string() -> None:
    """A WebSocket may carry its API token as ?token=: the line names the path only."""
    stream = io.StringIO()
    configure_logging(LogSettings(format="json"), stream)
    sent: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    scope = {"type": "http", "method": "GET", "path": "/ws/deployment/logs",
             "query_string": b"token=fbk_secret", "headers": []}  # fmt: skip
    try:
        await AccessLog(cast(Any, inner), enabled=True)(cast(Scope, scope), receive, send)
    finally:
        configure_logging(LogSettings())
    (line,) = stream.getvalue().splitlines()
    assert "fbk_secret" not in line and json.loads(line)["path"] == "/ws/deployment/logs"
    assert (b"x-request-id", json.loads(line)["request_id"].encode()) in sent[0]["headers"]


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"FOGBANK_GITHUB__API_URL": "http://ghe.example.com/api/v3"}, "github.api_url"),
        (
            {
                "FOGBANK_NOTIFY__SMTP_SECURITY": "none",
                "FOGBANK_NOTIFY__SMTP_HOST": "mail.example.com",
            },
            "notify.smtp_security",
        ),
        ({"FOGBANK_METRICS__ALLOW_FROM": "everyone"}, "metrics.allow_from"),
        ({"FOGBANK_LOG__FORMAT": "xml"}, "log.format"),
    ],
)
def test_settings_refuse_clear_text_secrets_and_bad_values(
    environ: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, environ=environ)
    assert key in refused.value.message


def test_the_grafana_dashboard_uses_every_series_and_no_other() -> None:
    dashboard = json.loads(
        (Path(__file__).parent.parent / "docs" / "grafana-dashboard.json").read_text()
    )
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = set(re.findall(r"fogbank_[a-z_]+", exprs))
    families = {
        f.name + ("_total" if f.type == "counter" else "")
        for f in text_string_to_metric_families(Metrics().exposition().decode())
    }
    histograms = {name.removesuffix("_bucket") for name in used if name.endswith("_bucket")}
    assert {name for name in used if not name.endswith("_bucket")} | histograms == families
