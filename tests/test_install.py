"""The production install path: scripts/install run twice under a temporary root (files for real:
source, venv with fogbank pip-installed, config, units; the second run changes nothing and says
so), both units clean under `systemd-analyze verify`, a dry run on this machine that prints each
step and touches nothing, and the units' promises (the edge outlives fogbank).

Not exercised here, for want of systemd as PID 1 and of a disposable machine: apt-get, useradd,
systemctl (daemon-reload, enable, start, mask caddy.service). Under --root the script prints
each of those steps as skipped; the dry run prints what it would do on this machine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("fogbank-edge.service", "fogbank.service")
# What a run prints when it has nothing to do at a step.
UNCHANGED = (
    "present",
    "using the running engine",
    "skipped",
    "exists",
    "is this tree already",
    "has this version",
    "is current",
    "nothing to change",
    "source: /",
)


def install(*args: str) -> list[str]:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install"), *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return [line for line in result.stdout.splitlines() if line.startswith("install: ")]


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    return {
        str(path.relative_to(root)): (
            path.stat().st_mtime_ns,
            path.stat().st_size,
            path.stat().st_mode,
        )
        for path in root.rglob("*")
        if not path.is_symlink()
    }


def unit_lines(name: str) -> dict[str, list[str]]:
    """key -> every value it is given in the unit (keys may repeat)."""
    found: dict[str, list[str]] = {}
    for line in (ROOT / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_install_twice_under_a_root_then_every_unit_verifies(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = install(
        "--root",
        str(root),
        "--public-url",
        "https://deploy.example.com",
        "--email",
        "ops@example.com",
    )
    assert f"install: venv: pip install fogbank into {root}/opt/fogbank/venv" in first
    assert any(line.startswith("install: unit: install") for line in first)
    assert first[-1] == "install: done"

    venv = root / "opt" / "fogbank" / "venv"
    assert (venv / "bin" / "fogbank").is_file()
    modes = {
        "etc/fogbank": 0o750,
        "etc/fogbank/config.toml": 0o640,
        "var/lib/fogbank": 0o700,
        "opt/fogbank": 0o755,
    }
    assert {name: (root / name).stat().st_mode & 0o777 for name in modes} == modes
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_bytes() == (
            ROOT / "systemd" / unit
        ).read_bytes()
    # The config it wrote loads with the fogbank it installed, and matches the units.
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys; from pathlib import Path; from controller.config import load_settings; "
            "s = load_settings(Path(sys.argv[1]), environ={}); "
            "print(s.edge.tls, s.edge.spawn, s.edge.http_port, s.edge.https_port, "
            "s.server.public_url, s.server.trusted_proxies, s.storage.data_dir, s.edge.acme_email)",
            str(root / "etc/fogbank/config.toml"),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert check.stdout.split() == [
        "acme",
        "False",
        "80",
        "443",
        "https://deploy.example.com",
        "('127.0.0.1',)",
        "/var/lib/fogbank",
        "ops@example.com",
    ]

    before = snapshot(root)
    second = install("--root", str(root))
    assert second[-1] == "install: nothing to change: fogbank is installed and current"
    changed = [line for line in second if not any(word in line for word in UNCHANGED)]
    assert changed == []
    assert snapshot(root) == before  # not one file touched

    # systemd-analyze verify under that root; the root needs systemd's own units beside ours.
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    verify = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            f"--root={root}",
            *(f"/etc/systemd/system/{u}" for u in UNITS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    print("systemd-analyze verify:", verify.returncode, verify.stdout, verify.stderr)
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, "", "")
    # The check can fail: a unit whose ExecStart is missing is refused.
    broken = (root / "etc/systemd/system/fogbank.service").read_text()
    (root / "etc/systemd/system/broken.service").write_text(
        broken.replace("bin/fogbank", "bin/nope")
    )
    refused = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "/etc/systemd/system/broken.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "not executable" in refused.stderr


@pytest.mark.slow
def test_a_dry_run_prints_each_step_and_changes_nothing() -> None:
    watched = [
        Path("/opt/fogbank"),
        Path("/etc/fogbank"),
        Path("/var/lib/fogbank"),
        *(Path("/etc/systemd/system") / unit for unit in UNITS),
    ]
    before = {path: path.exists() for path in watched}
    users_before = Path("/etc/passwd").read_bytes()
    lines = install("--dry-run", "--public-url", "https://deploy.example.com")
    would = [line for line in lines if line.startswith("install: would: ")]
    assert (
        any("venv: pip install fogbank" in line for line in would) or before[Path("/opt/fogbank")]
    )
    assert lines[-1].startswith("install: dry run") or lines[-1].startswith("install: nothing")
    assert {path: path.exists() for path in watched} == before
    assert Path("/etc/passwd").read_bytes() == users_before


def test_the_units_keep_the_edge_apart_from_fogbank() -> None:
    fogbank, edge = unit_lines("fogbank.service"), unit_lines("fogbank-edge.service")
    for binding in ("BindsTo", "PartOf", "Requires", "Requisite"):
        assert not any("fogbank-edge" in value for value in fogbank.get(binding, []))
        assert not any("fogbank.service" in value for value in edge.get(binding, []))
    assert "fogbank-edge.service" in " ".join(fogbank["Wants"])
    assert "FOGBANK_EDGE__SPAWN=false" in fogbank["Environment"]
    assert fogbank["ExecStart"] == [
        "/opt/fogbank/venv/bin/fogbank serve --config /etc/fogbank/config.toml"
    ]
    assert edge["ExecStart"] == [
        "/opt/fogbank/venv/bin/fogbank edge run --config /etc/fogbank/config.toml"
    ]
    assert (fogbank["Type"], edge["Type"]) == (["notify"], ["notify"])
    assert edge["Restart"] == ["always"]
    assert int(fogbank["LimitNOFILE"][0]) >= 65536 and int(edge["LimitNOFILE"][0]) >= 65536
    assert "SupplementaryGroups" not in edge  # the edge cannot reach the Docker socket
    assert fogbank["StateDirectoryMode"] == edge["StateDirectoryMode"] == ["0700"]
