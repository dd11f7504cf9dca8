"""The layout keeps its promises: imports go one way (api -> webhooks -> controller, and inside
controller/ from the service down through the pipeline's stages to the store), controller/'s
top level is its sub-packages plus three modules, and no module grows past 300 lines."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("controller", "webhooks", "api")
# Who may import whom: a part may import itself and anything listed for it (and what those
# may import is not implied: each row is complete). controller/ sub-packages, lowest first.
LAYERS: dict[str, set[str]] = {
    "controller.errors": set(),
    "controller.config": {"controller.errors"},
    # Metrics and the process log's context: anything may count and log.
    "controller.telemetry": {"controller.errors", "controller.config"},
    "controller.store": {"controller.errors", "controller.config"},
    "controller.events": {"controller.errors", "controller.store"},
    "controller.source": {"controller.errors", "controller.config", "controller.store"},
    "controller.runtime": {"controller.errors", "controller.config", "controller.store"},
    "controller.edge": {
        "controller.errors",
        "controller.config",
        "controller.store",
        "controller.telemetry",
    },
    "controller.accounts": {"controller.errors", "controller.config", "controller.store"},
    # Instance leases and the upkeep leader: rows only; what a takeover does is handed in.
    "controller.cluster": {"controller.errors", "controller.config", "controller.store"},
}
LOW = {
    "controller.errors",
    "controller.config",
    "controller.store",
    "controller.events",
    "controller.telemetry",
}
ADAPTERS = {"controller.source", "controller.runtime", "controller.edge"}
# Reporting back (GitHub, notifications, the outbox): written to by the pipeline and upkeep.
LAYERS["controller.notify"] = LOW | {"controller.source"}
LAYERS["controller.build"] = LOW | ADAPTERS
LAYERS["controller.deploy"] = LOW | ADAPTERS | {"controller.build", "controller.notify"}
LAYERS["controller.upkeep"] = LAYERS["controller.deploy"] | {"controller.deploy"}
LAYERS["controller.apps"] = LAYERS["controller.upkeep"] | {"controller.upkeep"}
LAYERS["controller.service"] = set(LAYERS) | {"controller.apps"}
CONTROLLER_PARTS = set(LAYERS)
LAYERS["webhooks"] = CONTROLLER_PARTS
LAYERS["api"] = CONTROLLER_PARTS | {"webhooks"}
TOP_LEVEL_MODULES = {"__init__.py", "service.py", "config.py", "errors.py"}
MAX_LINES = 300


def part_of(module: str) -> str | None:
    """The layer a dotted module name belongs to, or None for third-party modules."""
    parts = module.split(".")
    if parts[0] in ("webhooks", "api"):
        return parts[0]
    if parts[0] != "controller":
        return None
    if len(parts) == 1:
        return "controller.service"  # `import controller` is nothing but the package
    return f"controller.{parts[1]}"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from controller import x` imports the sub-package x
            if node.module == "controller":
                found += [(node.lineno, f"controller.{alias.name}") for alias in node.names]
    return found


def source_files() -> list[Path]:
    files: list[Path] = []
    for package in PACKAGES:
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def back_imports() -> list[str]:
    problems = []
    for path in source_files():
        own = part_of(module_name(path))
        assert own is not None and own in LAYERS, f"{path}: not in any layer"
        for line, imported in imports_of(path):
            target = part_of(imported)
            if target is None or target == own:
                continue
            if target not in LAYERS[own]:
                problems.append(f"{path.relative_to(ROOT)}:{line}: {own} imports {imported}")
    return problems


def test_imports_go_one_way() -> None:
    assert back_imports() == []


def test_a_back_import_is_caught(tmp_path: Path) -> None:
    """The check itself fails on a back-import (the store reaching up into deploy)."""
    probe = ROOT / "controller" / "store" / "_probe_back_import.py"
    probe.write_text("from controller.deploy.queue import CommitRef\n\n__all__ = ['CommitRef']\n")
    try:
        assert back_imports() == [
            "controller/store/_probe_back_import.py:1: controller.store imports "
            "controller.deploy.queue"
        ]
    finally:
        probe.unlink()


def test_controller_top_level_is_sub_packages_and_three_modules() -> None:
    top = ROOT / "controller"
    modules = {p.name for p in top.iterdir() if p.is_file() and p.suffix == ".py"}
    assert modules <= TOP_LEVEL_MODULES
    packages = {p.name for p in top.iterdir() if (p / "__init__.py").is_file()}
    assert {f"controller.{name}" for name in packages} <= CONTROLLER_PARTS


def test_no_module_is_over_300_lines() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    long = {
        name: count
        for name in tracked
        if "migrations" not in name
        and (ROOT / name).is_file()
        and (count := len((ROOT / name).read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
