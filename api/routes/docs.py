"""The OpenAPI document and the docs page, both public like most APIs' (they hold no secrets).
The page lists every operation in its HTML and runs Swagger UI from files shipped in the
package (api/assets/), so it works on a server without internet."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from quart import Blueprint, Quart, Response, current_app, jsonify, render_template_string, url_for

from api.documentation import content, errors, path_choices
from api.guard import public
from controller.errors import NotFound

blueprint = Blueprint("docs", __name__)

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
DOCUMENT_KEY = "fogbank_openapi"
PAGE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
METHODS = ("get", "post", "put", "delete")
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ info.title }} API {{ info.version }}</title>
  <link rel="stylesheet" href="{{ url_for('docs.asset', name='swagger-ui.css') }}">
</head>
<body>
  <header>
    <h1>{{ info.title }} API {{ info.version }}</h1>
    <p>{{ info.description }}</p>
    <p>The <a href="{{ spec_url }}">OpenAPI document</a> lists the same operations.</p>
  </header>
  <section id="operations">
    <h2>Operations</h2>
    <ul>
    {%- for op in operations %}
      <li><code>{{ op.method }}</code> <code>{{ op.path }}</code> ({{ op.role }}):
        {{ op.summary }}</li>
    {%- endfor %}
    </ul>
  </section>
  <div id="swagger-ui" data-spec-url="{{ spec_url }}"></div>
  <script src="{{ url_for('docs.asset', name='swagger-ui-bundle.js') }}"></script>
  <script src="{{ url_for('docs.asset', name='docs.js') }}"></script>
</body>
</html>
"""


def document(app: Quart) -> dict[str, Any]:
    """The app's OpenAPI document, built once: the routes do not change while it serves."""
    found: dict[str, Any] | None = app.extensions.get(DOCUMENT_KEY)
    if found is None:
        found = app.extensions["QUART_SCHEMA"].openapi_provider.schema()
        app.extensions[DOCUMENT_KEY] = found
    return found


@blueprint.get("/openapi.json")
@public
@content(200, "application/json", "This document", {"type": "object"})
async def openapi() -> Response:
    """The OpenAPI document of every route."""
    return jsonify(document(current_app))


@blueprint.get("/docs")
@public
@content(200, "text/html", "The operations, and Swagger UI")
async def page() -> Response:
    """Interactive API documentation; the operations are listed without JavaScript too."""
    spec = document(current_app)
    operations = [
        {
            "method": method.upper(),
            "path": path,
            "role": operation.get("x-fogbank-role", ""),
            "summary": operation.get("summary", ""),
        }
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    html = await render_template_string(
        PAGE, info=spec["info"], operations=operations, spec_url=url_for("docs.openapi")
    )
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@blueprint.get("/docs/assets/<name>")
@public
@errors(404)
@path_choices(name=ASSETS)
@content(200, "text/javascript", "Swagger UI's script")
@content(200, "text/css", "Swagger UI's style sheet")
async def asset(name: str) -> Response:
    """A file of the docs page (Swagger UI, shipped in the package)."""
    if name not in ASSETS:
        raise NotFound(f"no docs file named {name!r}")
    response = Response(_asset_bytes(name), content_type=ASSETS[name])
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@cache
def _asset_bytes(name: str) -> bytes:
    folder = resources.files("api") / "assets"
    path = folder / name if name == "docs.js" else folder / "swagger-ui" / name
    return path.read_bytes()
