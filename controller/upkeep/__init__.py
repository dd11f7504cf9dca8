"""Scheduled work: drift repair, retention, git polling."""
