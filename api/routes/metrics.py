"""GET /metrics: Prometheus' text format, for a scraper that sends metrics.token as a Bearer
token or calls from an address in metrics.allow_from; refused to anybody else (by default,
everybody)."""

from __future__ import annotations

import hmac
import ipaddress

from quart import Blueprint, Response, request

from api.documentation import content, errors
from api.guard import public
from api.services import services
from controller.config import MetricsSettings
from controller.errors import Forbidden, Unauthorized
from controller.telemetry.metrics import TEXT_FORMAT

blueprint = Blueprint("metrics", __name__)


def check_scraper(settings: MetricsSettings, authorization: str, address: str | None) -> None:
    """Let the caller through, or raise: 401 for a missing or wrong token when one is set,
    403 when nothing allows this caller."""
    if address and settings.allow_from:
        try:
            caller = ipaddress.ip_address(address)
        except ValueError:
            caller = None
        if caller is not None and any(
            caller in ipaddress.ip_network(network, strict=False) for network in settings.allow_from
        ):
            return
    if settings.token:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), settings.token.encode()
        ):
            return
        raise Unauthorized("send 'Authorization: Bearer <metrics.token>'")
    raise Forbidden(
        "metrics are not served to this address: set metrics.token or metrics.allow_from",
        code="METRICS_REFUSED",
    )


@blueprint.get("/metrics")
@public  # its own check: a scraper's token or address (metrics.token, metrics.allow_from)
@errors(401, 403)
@content(200, TEXT_FORMAT, "Prometheus text format")
async def metrics() -> Response:
    """Prometheus metrics: deployments, stages, queue, webhooks, watchers, drift, edge, outbox."""
    found = services()
    check_scraper(
        found.settings.metrics, request.headers.get("Authorization", ""), request.remote_addr
    )
    body = await found.controller.metrics_text()
    return Response(body, status=200, content_type=TEXT_FORMAT)
