"""Schemathesis against a real `fogbank serve` on loopback, driven by its own GET /openapi.json.

Every documented HTTP operation (the WebSocket excluded: it is not HTTP after the upgrade) gets
FUZZ_EXAMPLES generated requests, valid and invalid, sent as an admin Bearer. The server has a
seeded app, env vars, a domain and a failed deployment so ids hit real rows. Deployments cannot
really deploy: the seeded repository's Dockerfile fails at its first step, and git may use no
network protocol (protocol.allow=never; file:// only, through git.allow_local), so a fuzzed
https/ssh repository fails in git before any traffic leaves the host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.openapi import build_document
from controller.config import Settings
from tests.support.api import unique_name
from tests.support.repos import GitRepo
from tests.support.server import Server, prepare_server, wait_until

pytestmark = pytest.mark.slow

# Generated requests per operation (hypothesis max_examples): 31 operations, about 2,700 requests
# with schemathesis' coverage cases, about 50 s on the development host.
FUZZ_EXAMPLES = 50
ENVELOPE_KEYS = {"success", "message", "data", "error"}
# The only answers that are not the envelope, each for a stated reason.
BARE_ANSWERS = {
    ("POST", "/api/deployment/add"): "the seed answers the bare deployment object",
    ("GET", "/api/deployment/logs/{deployment_id}"): "the seed answers the log as text/plain",
    ("GET", "/openapi.json"): "the OpenAPI document itself",
}
FAILING_DOCKERFILE = "FROM scratch\nCOPY file-that-does-not-exist /x\n"


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server with seeded rows; git limited to file:// so nothing leaves loopback."""
    root = tmp_path_factory.mktemp("fuzz")
    git_config = root / "gitconfig"
    git_config.write_text("[protocol]\n\tallow = never\n")
    server = prepare_server(
        root, {"git": {"timeout_seconds": 10}, "controller": {"workers": 1}}, client_name="fuzz"
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GIT_CONFIG_GLOBAL", str(git_config))
        env.setenv("GIT_CONFIG_NOSYSTEM", "1")
        server.start()
    try:
        _seed(server, root)
        yield server
        assert server.terminate() == 0
    finally:
        server.stop_quietly()


def _seed(server: Server, root: Path) -> None:
    repo_path = root / "repo"
    repo_path.mkdir()
    repo = GitRepo(repo_path)
    repo.git("init", "-q", "-b", "main")
    repo.commit("fails at its first step", {"Dockerfile": FAILING_DOCKERFILE})
    app = server.call(
        "POST",
        "/api/apps/create",
        {"name": unique_name("fuzz"), "gitRepository": repo.url, "healthTimeoutSeconds": 2},
    )["data"]
    server.call("POST", "/api/apps/envs/create", {"appId": app["id"], "key": "PLAIN", "value": "1"})
    server.call(
        "POST",
        "/api/apps/envs/create",
        {"appId": app["id"], "key": "TOKEN", "value": "fuzz-secret", "isSecret": True},
    )
    server.call("POST", "/api/apps/domains/create", {"appId": app["id"], "hostname": "fuzz.test"})
    deployment = server.call("POST", "/api/deployment/add", {"appId": app["id"]})
    wait_until(
        lambda: server.deployments(app["id"])[0]["status"] == "failed" or None,
        60,
        f"deployment {deployment['id']} to fail",
    )


# The document the server serves (tests/test_openapi.py checks they are equal), loaded at
# collection so each operation is its own test item.
DOCUMENT = build_document(create_app(Settings()))
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path="/ws/deployment/logs")


@pytest.mark.timeout(300)
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzzed_requests_get_no_5xx_and_only_the_envelope(
    case: Case[Any], fuzz_server: Server
) -> None:
    """50 generated requests per operation (positive and negative), as an admin: no 5xx, the
    documented status codes, content types and schemas, invalid input refused with a 4xx, and
    every JSON answer the envelope except the BARE_ANSWERS."""
    response = case.call(
        base_url=fuzz_server.base,
        headers={"Authorization": f"Bearer {fuzz_server.token}"},
        timeout=30,
    )
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            negative_data_rejection,
        ],
    )
    assert_envelope(case, response)


def assert_envelope(case: Case[Any], response: Response) -> None:
    key = (case.method.upper(), case.path)
    content_type = response.headers.get("content-type", [""])[0]
    label = f"{key} -> {response.status_code} {content_type}"
    if key in BARE_ANSWERS and response.status_code == 200:
        return
    assert content_type.startswith("application/json"), label
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == ENVELOPE_KEYS, f"{label}: {body!r}"
    assert isinstance(body["message"], str), label
    if body["success"] is True:
        assert response.status_code < 400 and body["error"] is None, label
    else:
        assert body["success"] is False and response.status_code >= 400, label
        assert body["data"] is None and isinstance(body["error"], str), label


def test_bare_answers_are_only_the_documented_ones(fuzz_server: Server) -> None:
    """The exceptions above are exactly the routes the document marks as non-envelope."""
    document = httpx.get(f"{fuzz_server.base}/openapi.json", timeout=10).json()
    assert document == DOCUMENT
    bare = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            success = operation["responses"].get("200", {}).get("content", {})
            schemas = [c.get("schema", {}) for c in success.values()]
            if any("success" not in s.get("properties", {}) for s in schemas):
                bare.add((method.upper(), path))
    assert bare - {("GET", "/ws/deployment/logs")} == set(BARE_ANSWERS)
