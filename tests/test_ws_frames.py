"""The deployment log socket of a real `fogbank serve` (Hypercorn, where frames for one watcher
go out several to a write): the seed's frames byte for byte by default, with and without
permessage-deflate, and `?batch=1` frames whose lines carry contiguous seqs."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.repos import make_web_repo
from tests.support.server import Server, prepare_server

pytestmark = pytest.mark.slow

LINES = 3000
# Waits for the watchers, prints LINES numbered lines as fast as it can, then fails (a nonce
# first: no step comes from the layer cache).
DOCKERFILE = f"""FROM scratch
COPY nonce /nonce
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sleep", "3"]
RUN ["/bin/busybox", "awk", "BEGIN {{ for (i = 1; i <= {LINES}; i++) print \\"line \\" i }}"]
RUN ["/bin/busybox", "false"]
"""
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
STATUS_KEYS = ["deployment_id", "status", "stage", "progress", "message", "error_message"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    found = prepare_server(tmp_path)
    found.start()
    try:
        yield found
    finally:
        found.stop_quietly()


async def frames_of(url: str, *, compression: str | None) -> tuple[list[str], int | None]:
    """Every frame's text until the server closes; and the close code."""
    frames: list[str] = []
    async with connect(url, compression=compression, max_size=None) as socket:
        try:
            async with asyncio.timeout(240):
                async for frame in socket:
                    assert isinstance(frame, str)
                    frames.append(frame)
        except ConnectionClosed:
            pass
        code = socket.close_code
    return frames, code


def seed_frame(text: str) -> dict[str, Any]:
    """A frame in the seed's bytes: json.dumps of {"type", "timestamp", "data"} in that order,
    with the seed's data fields; parsed."""
    frame: dict[str, Any] = json.loads(text)
    assert json.dumps(frame) == text
    assert list(frame) == ["type", "timestamp", "data"]
    assert re.fullmatch(TIMESTAMP, frame["timestamp"])
    keys = list(frame["data"])
    expected = {"status": STATUS_KEYS, "log": ["line", "seq"], "error": ["message"]}
    assert keys == expected[frame["type"]], frame
    return frame


def test_default_frames_are_the_seeds_and_batched_frames_carry_every_seq(
    tmp_path: Path, server: Server, app_name: str
) -> None:
    repo = make_web_repo(tmp_path / "repo")
    repo.commit("numbered lines", {"Dockerfile": DOCKERFILE, "nonce": uuid.uuid4().hex})
    app = server.call(
        "POST", "/api/apps/create", {"name": app_name, "gitRepository": repo.url, "port": 3000}
    )["data"]
    try:
        added = server.call("POST", "/api/deployment/add", {"appId": app["id"]})
        base = (
            f"ws://127.0.0.1:{server.port}/ws/deployment/logs?deploymentId={added['id']}"
            f"&token={server.token}"
        )

        Watched = tuple[list[str], int | None]

        async def watch_live() -> tuple[Watched, Watched, Watched]:
            return await asyncio.gather(
                frames_of(base, compression=None),
                frames_of(base, compression="deflate"),
                frames_of(base + "&batch=1", compression=None),
            )

        (plain, plain_code), (deflated, deflated_code), (batched, batched_code) = asyncio.run(
            watch_live()
        )
        late, late_code = asyncio.run(frames_of(base + "&batch=1", compression=None))
        text = httpx.get(
            f"{server.base}/api/deployment/logs/{added['id']}",
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=30,
        ).text
        log = text.split("\n")[:-1]
    finally:
        server.call("DELETE", "/api/apps/delete", {"appId": app["id"]})

    assert plain_code == deflated_code == batched_code == late_code == 1000
    # Default frames: the seed's, every line of the log in order, an error, the final status.
    for frames in (plain, deflated):
        parsed = [seed_frame(text) for text in frames]
        lines = [f["data"] for f in parsed if f["type"] == "log"]
        assert [line["seq"] for line in lines] == list(range(1, len(log) + 1))
        assert [line["line"] for line in lines] == log
        assert [f"line {n}" for n in range(1, LINES + 1)] == [
            line for line in log if re.fullmatch(r"line \d+", line)
        ]
        # the error frame, the log's last line ("Deployment failed"), the final status
        assert parsed[0]["type"] == "status"
        assert [f["type"] for f in parsed[-3:]] == ["error", "log", "status"]
        assert parsed[-1]["data"]["status"] == "failed"
    assert [json.loads(t)["data"] for t in plain] == [json.loads(t)["data"] for t in deflated]

    # ?batch=1: status and error frames as by default; lines in `logs` frames, seqs contiguous.
    for frames in (batched, late):
        parsed = [json.loads(text) for text in frames]
        assert all(json.dumps(frame) == text for frame, text in zip(parsed, frames, strict=True))
        batches = [f for f in parsed if f["type"] == "logs"]
        assert all(list(f) == ["type", "timestamp", "data"] for f in batches)
        assert all(re.fullmatch(TIMESTAMP, f["timestamp"]) for f in batches)
        seqs = [line["seq"] for f in batches for line in f["data"]["lines"]]
        assert seqs == list(range(1, len(log) + 1))
        assert [line["line"] for f in batches for line in f["data"]["lines"]] == log
        others = [seed_frame(text) for text in frames if not text.startswith('{"type": "logs"')]
        assert others[0]["type"] == "status"
        assert [f["type"] for f in others[-2:]] == ["error", "status"]
    # The live batched watcher got the same status and error frames as the default one (its
    # first status frame is its own, made when it connected); the late one only the end.
    plain_others = [f["data"] for f in map(json.loads, plain) if f["type"] != "log"]
    batched_others = [f["data"] for f in map(json.loads, batched) if f["type"] != "logs"]
    assert batched_others[1:] == plain_others[1:]
    assert [json.loads(f)["type"] for f in late if '"type": "logs"' not in f] == [
        "status",
        "error",
        "status",
    ]
    # Live, the burst came several lines to a frame; the late watcher's backlog at most 1000.
    assert len([f for f in batched if '"type": "logs"' in f]) < len(log)
    assert [len(json.loads(f)["data"]["lines"]) for f in late if '"type": "logs"' in f] == [
        1000,
        1000,
        1000,
        len(log) - 3000,
    ]
