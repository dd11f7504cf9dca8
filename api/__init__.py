"""HTTP layer: Quart app factory, blueprints, error envelope, CLI."""

# First, before anything imports httpx: controller's package init keeps httpx's own command line
# (and the ~6 MB it pulls in) out of every fogbank process.
import controller  # noqa: F401
