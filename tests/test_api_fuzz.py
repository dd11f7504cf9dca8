"""Schemathesis against a real `fogbank serve` on loopback, driven by its own GET /openapi.json.

Every documented HTTP operation (the WebSockets excluded: they are not HTTP after the upgrade) gets
FUZZ_EXAMPLES generated requests, valid and invalid, plus the document's examples, sent as an
admin Bearer. The server is seeded so ids hit live rows: app 1 with two successful deployments
(a busybox httpd, the second one active, so container control and rollback have a subject), env
vars 1 and 2, domain 1; then its branch head moves to a commit whose Dockerfile fails at its first
step, so fuzzed deployments build nothing that runs. Git may use no network protocol
(protocol.allow=never; file:// only, through git.allow_local), so a fuzzed https/ssh repository
fails in git before any traffic leaves the host.

Operations run in ORDER: the ones that change or remove the seeded objects come last, so every
other operation meets them alive. The last test prints, per operation, how many answers were 2xx
and checks that each operation that can succeed with valid data did at least once.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import docker
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
from api.routes.docs import document
from controller.config import Settings
from tests.support.fuzz_server import CREDENTIAL_CHANGES, keep_the_fuzzer_admin, seeded_server
from tests.support.server import Server

pytestmark = pytest.mark.slow

# Generated requests per operation (hypothesis max_examples), besides schemathesis' coverage
# cases and the document's examples: about 3,000 requests in all.
FUZZ_EXAMPLES = 50
ENVELOPE_KEYS = {"success", "message", "data", "error"}
# The only answers that are not the envelope, each for a stated reason.
BARE_ANSWERS = {
    ("POST", "/api/deployment/add"): "the seed answers the bare deployment object",
    ("GET", "/api/deployment/logs/{deployment_id}"): "the seed answers the log as text/plain",
    ("GET", "/api/apps/logs"): "an app's runtime log as text/plain, like the build log",
    ("GET", "/openapi.json"): "the OpenAPI document itself",
    ("GET", "/docs"): "the docs page (HTML)",
    ("GET", "/docs/assets/{name}"): "the docs page's script and style sheet",
    ("GET", "/metrics"): "Prometheus' text format (refused in the envelope unless configured)",
}
# Operations that change or remove the seeded objects, run after all others in this order; the
# other DELETEs (users, tokens, targets) after them.
LAST = (
    ("PUT", "/api/apps/envs/update"),
    ("PUT", "/api/apps/update"),
    ("DELETE", "/api/apps/envs/delete"),
    ("DELETE", "/api/apps/domains/delete"),
    ("DELETE", "/api/apps/delete"),
)
# Operations that no valid request can make succeed here, and why.
NO_SUCCESS_POSSIBLE = {
    ("POST", "/api/auth/signup"): "signup creates the first user only; the server has one",
    ("POST", "/api/deployment/stop"): (
        "only a deployment still in progress can be stopped; the ids a fuzzer sends meet "
        "finished ones (409)"
    ),
    ("POST", "/webhooks/github"): "a delivery must be signed with a secret the document lacks",
    ("POST", "/api/github/webhook"): "a delivery must be signed with a secret the document lacks",
    ("POST", "/webhooks/github/{app_name}"): "signed with the app's secret, which it lacks",
}

# (method, path) -> Counter of the statuses the server answered.
ANSWERS: defaultdict[tuple[str, str], Counter[int]] = defaultdict(Counter)


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Server]:
    with seeded_server(tmp_path_factory.mktemp("fuzz"), docker_client) as server:
        yield server


def _run_order(item: tuple[str, dict[str, Any]]) -> int:
    """LAST in its order, then every other DELETE, after all the rest (the document's order)."""
    path, operations = item
    ranks = [LAST.index((m.upper(), path)) + 1 for m in operations if (m.upper(), path) in LAST]
    if not ranks and "delete" in operations:
        ranks = [len(LAST) + 1]
    return max(ranks, default=0)


# The document the server serves (test_bare_answers_... checks they are equal), loaded at
# collection so each operation is its own test item; its paths reordered to run in ORDER.
DOCUMENT = document(create_app(Settings()))
ORDERED = {**DOCUMENT, "paths": dict(sorted(DOCUMENT["paths"].items(), key=_run_order))}
# The WebSockets (every /ws/ path) are not HTTP after the upgrade.
schema = schemathesis.openapi.from_dict(ORDERED).exclude(path_regex=r"^/ws/")
OPERATIONS = {
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method in operations
    if not path.startswith("/ws/")
}


@pytest.mark.timeout(600)
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
    """Generated requests per operation (positive and negative), as an admin: no 5xx, the
    documented status codes, content types and schemas, invalid input refused with a 4xx, and
    every JSON answer the envelope except the BARE_ANSWERS."""
    response = case.call(
        base_url=fuzz_server.base,
        headers={"Authorization": f"Bearer {fuzz_server.token}"},
        timeout=30,
    )
    # Counted under the operation; its coverage cases also probe undocumented methods (405).
    key = (case.operation.method.upper(), case.operation.path)
    ANSWERS[key][response.status_code] += 1
    if key in CREDENTIAL_CHANGES and 200 <= response.status_code < 300:
        keep_the_fuzzer_admin(fuzz_server)
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
    served = httpx.get(f"{fuzz_server.base}/openapi.json", timeout=10).json()
    assert served == DOCUMENT
    bare = set()
    for path, operations in served["paths"].items():
        for method, operation in operations.items():
            success = operation["responses"].get("200", {}).get("content", {})
            schemas = [c.get("schema", {}) for c in success.values()]
            if any("success" not in s.get("properties", {}) for s in schemas):
                bare.add((method.upper(), path))
    assert bare == set(BARE_ANSWERS)


def test_every_operation_met_a_live_object(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs after the fuzzing above (same module): per operation, the answers and how many were
    2xx. Each operation that valid data can make succeed got at least one success; deletes are
    reported (they run last, on whatever the run left)."""
    not_fuzzed = OPERATIONS - set(ANSWERS)
    if not_fuzzed:
        pytest.fail(f"run with the fuzz test of this module; not fuzzed: {sorted(not_fuzzed)}")
    assert set(ANSWERS) == OPERATIONS, set(ANSWERS) - OPERATIONS
    lines = [f"{'operation':<44} {'answers':>7} {'2xx':>5}  statuses"]
    for method, path in sorted(OPERATIONS, key=lambda op: (op[1], op[0])):
        statuses = ANSWERS[(method, path)]
        ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
        spread = " ".join(f"{status}:{count}" for status, count in sorted(statuses.items()))
        lines.append(f"{method + ' ' + path:<44} {statuses.total():>7} {ok:>5}  {spread}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    never = sorted(
        (method, path)
        for method, path in OPERATIONS
        if method != "DELETE"
        and (method, path) not in NO_SUCCESS_POSSIBLE
        and not any(200 <= status < 300 for status in ANSWERS[(method, path)])
    )
    assert never == [], "operations that never succeeded on the live objects"
