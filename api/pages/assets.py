"""The pages' own files (style sheet and scripts), shipped in the package: the dashboard needs
nothing from another server."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from quart import Response, url_for

from api.pages.site import blueprint, page, templates
from controller.errors import NotFound

ASSETS = {
    "fogbank.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "live.js": "text/javascript; charset=utf-8",
    "runtime.js": "text/javascript; charset=utf-8",
    "admin.js": "text/javascript; charset=utf-8",
}


@blueprint.get("/ui/assets/<name>")
@page(None)
async def asset(name: str) -> Response:
    """A file of the dashboard."""
    if name not in ASSETS:
        raise NotFound(f"no dashboard file named {name!r}")
    response = Response(_asset_bytes(name), content_type=ASSETS[name])
    # Pages name each file with its content's hash (asset_url), so a new release is never
    # served from an old cache.
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def asset_url(name: str) -> str:
    """The URL of a dashboard file, versioned by its content."""
    return url_for("pages.asset", name=name, v=_version(name))


templates.globals["asset_url"] = asset_url


@cache
def _version(name: str) -> str:
    return hashlib.sha256(_asset_bytes(name)).hexdigest()[:12]


@cache
def _asset_bytes(name: str) -> bytes:
    return (resources.files("api") / "pages" / "assets" / name).read_bytes()
