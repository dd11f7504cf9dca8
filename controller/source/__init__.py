"""Where code comes from: per-app git mirrors and the exact-commit export."""
