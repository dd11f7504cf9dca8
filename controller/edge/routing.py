"""Which routes the edge should serve, from the database: every web app with a running upstream
and at least one way in (a domain or a public port)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from controller.edge.layout import Route
from controller.store.models import App, AppType, Deployment

log = logging.getLogger(__name__)


async def desired_routes(overrides: Mapping[int, tuple[int, ...]] | None = None) -> list[Route]:
    """One Route per web app whose active deployment has a host port, or whose app id is in
    `overrides` (app id -> upstream ports: a candidate the pipeline switches to before it is
    active, or an app's Swarm tasks). Apps with neither domains nor a public port get no
    route."""
    upstreams: dict[int, tuple[int, ...]] = {
        deployment.app_id: (deployment.host_port,)
        for deployment in await Deployment.filter(
            is_active=True, host_port__isnull=False, app__app_type=AppType.WEB
        )
        if deployment.host_port is not None
    }
    upstreams.update(overrides or {})
    apps = (
        await App.filter(id__in=list(upstreams), app_type=AppType.WEB)
        .prefetch_related("domains")
        .order_by("id")
    )
    routes: list[Route] = []
    for app in apps:
        upstream, *more = upstreams[app.id]
        hostnames = tuple(sorted(domain.hostname for domain in app.domains))
        public_port = app.public_port
        if public_port == upstream:
            # The container itself is published on its public port (a deployment made before
            # the edge): proxying that port to itself would only fail to bind.
            log.warning("edge: %s publishes port %s itself; no edge listener", app.name, upstream)
            public_port = None
        if hostnames or public_port is not None:
            routes.append(Route(app.name, upstream, hostnames, public_port, tuple(more)))
    return routes
