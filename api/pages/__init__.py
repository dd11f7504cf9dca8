"""The dashboard: pages rendered on the server (Jinja) with a little plain JavaScript, served by
the API's own app. Pages only read, through the controller's face; every change is a JSON API
request from the browser, under the API's rules (session, CSRF and Origin checks, roles)."""

from __future__ import annotations

from api.pages import accounts, apps, assets, deployment, present
from api.pages.site import blueprint, is_page

__all__ = ["accounts", "apps", "assets", "blueprint", "deployment", "is_page", "present"]
