"""Durable state: models, migrations, the database connection and its upkeep."""
