"""The physical floor of a deployment: a shell script doing `git clone` + `docker build` +
`docker run -p 127.0.0.1:PORT:3000` + polling the port every 10 ms until the new content
answers, with the time each of the four steps ended (for the timeline chart)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import docker

from tests.support.ports import free_port

SCRIPT = """set -eu
repo="$1"; dest="$2"; tag="$3"; name="$4"; port="$5"; expect="$6"
git clone -q "$repo" "$dest"
echo "clone $(date +%s.%N)"
docker build -q -t "$tag" "$dest" >/dev/null
echo "build $(date +%s.%N)"
docker run -d --label fogbank.bench.floor=1 --name "$name" -p "127.0.0.1:$port:3000" "$tag" >/dev/null
echo "run $(date +%s.%N)"
until [ "$(curl -s --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null || true)" = "$expect" ]; do
  sleep 0.01
done
echo "served $(date +%s.%N)"
"""
LABEL = "fogbank.bench.floor"
TIMEOUT_SECONDS = 120
STEPS = ("clone", "build", "run", "served")


@dataclass
class FloorRun:
    seconds: float
    # Seconds from the start to the end of each step (clone, build, run, served).
    steps: dict[str, float] = field(default_factory=dict)


def deploy(script: Path, repo_url: str, work: Path, tag: str, expect: str) -> FloorRun:
    """One floor deployment of `repo_url`, answering `expect` on a fresh loopback port."""
    name = f"fogbank-floor-{uuid.uuid4().hex[:10]}"
    # The classic builder, as fogbank's default (the docker SDK does not speak BuildKit).
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    started_wall = time.time()
    started = time.perf_counter()
    done = subprocess.run(
        ["bash", str(script), repo_url, str(work / name), tag, name, str(free_port()), expect],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"floor script failed: {done.stderr}")
    steps = {}
    for line in done.stdout.splitlines():
        step, _, stamp = line.partition(" ")
        if step in STEPS:
            steps[step] = float(stamp) - started_wall
    return FloorRun(seconds, steps)


def write_script(root: Path) -> Path:
    script = root / "floor.sh"
    script.write_text(SCRIPT)
    return script


def remove_objects() -> None:
    """The floor's containers and images."""
    client = docker.from_env()
    try:
        for container in client.containers.list(all=True, filters={"label": LABEL}):
            container.remove(force=True)
        for image in client.images.list(name="fogbank-floor/*"):
            for tag in image.tags:
                client.images.remove(tag, force=True)
    finally:
        client.close()
