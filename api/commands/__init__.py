"""Bodies of the `fogbank` commands beyond serving (api/cli.py wires them to arguments)."""
