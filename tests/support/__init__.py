"""Helpers shared by the tests and by bench/: git repositories, a `fogbank serve` process, the
in-process app's API, Docker cleanup, the edge, load generators and GitHub payloads.

No module here imports pytest at module level, so bench/ can use them outside a test run; the
fixtures that wrap them live in tests/conftest.py.
"""
