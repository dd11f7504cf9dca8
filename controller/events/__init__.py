"""Deployment logs and events, and each app's event log."""
