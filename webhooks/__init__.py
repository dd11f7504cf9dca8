"""GitHub webhook receiver (signature, payload parsing, dispatch)."""
