"""HTTP layer: Quart app factory, blueprints, error envelope, CLI."""
