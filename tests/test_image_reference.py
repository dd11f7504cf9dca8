"""Image references, registry hosts, volume settings and pull progress: the checks that stand
between user input and the Docker daemon."""

from __future__ import annotations

import re

import pytest

from controller.apps import registries, validation
from controller.build.pull import PullProgress
from controller.errors import ValidationFailed
from controller.runtime.reference import parse

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "host", "repository", "tag", "digest"),
    [
        ("postgres", "docker.io", "postgres", "latest", ""),
        ("postgres:16", "docker.io", "postgres", "16", ""),
        ("team/api:1.4", "docker.io", "team/api", "1.4", ""),
        (
            "registry.example.com/team/api:1.4",
            "registry.example.com",
            "registry.example.com/team/api",
            "1.4",
            "",
        ),
        ("127.0.0.1:5000/x/y", "127.0.0.1:5000", "127.0.0.1:5000/x/y", "latest", ""),
        ("localhost/x:2", "localhost", "localhost/x", "2", ""),
        (f"team/api@{DIGEST}", "docker.io", "team/api", "", DIGEST),
    ],
)
def test_references_are_read_as_docker_reads_them(
    text: str, host: str, repository: str, tag: str, digest: str
) -> None:
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        host,
        repository,
        tag,
        digest,
    )
    assert parse(ref.pinned(DIGEST)).digest == DIGEST


@pytest.mark.parametrize(
    "text",
    [
        "",
        " postgres",
        "-oProxy",
        "Team/api",
        "api:",
        "a b",
        "x\nFROM evil",
        "api@sha256:12",
        "x" * 1100,
    ],
)
def test_what_is_not_a_reference_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)
    with pytest.raises(ValidationFailed, match=r"^image: "):
        validation.image(text)


def test_registry_hosts() -> None:
    assert registries.registry_host("registry.example.com") == "registry.example.com"
    assert registries.registry_host("127.0.0.1:5000") == "127.0.0.1:5000"
    for bad in ("team", "https://registry.example.com", "a/b", ""):
        with pytest.raises(ValidationFailed, match=r"^registry: "):
            registries.registry_host(bad)


def test_volumes_are_normalised_and_unique() -> None:
    checked = validation.volumes([{"name": "data", "mount_path": "/srv//data/"}])
    assert checked == [{"name": "data", "mount_path": "/srv/data"}]
    for bad, named in [
        ([{"name": "a", "mount_path": "/a"}] * 2, "each name"),
        ([{"name": "a", "mount_path": "/x"}, {"name": "b", "mount_path": "/x/"}], "each mountPath"),
        ([{"name": "a", "mount_path": "/"}], "root"),
        ([{"name": "a", "mount_path": "/a,b"}], "':'"),
        ([{"name": "-a", "mount_path": "/a"}], "volumes[0].name"),
        ([{"name": f"v{i}", "mount_path": f"/v{i}"} for i in range(17)], "at most 16"),
    ]:
        with pytest.raises(ValidationFailed, match=re.escape(named)):
            validation.volumes(bad)


def test_pull_progress_is_logged_in_steps_and_counted_in_bytes() -> None:
    progress = PullProgress()
    lines = [
        progress.line({"status": "Pulling fs layer", "id": "l1"}),
        *(
            progress.line(
                {
                    "status": "Downloading",
                    "id": "l1",
                    "progressDetail": {"current": c, "total": 1000},
                }
            )
            for c in (100, 200, 300, 600, 700, 999)
        ),
        progress.line({"status": "Download complete", "id": "l1"}),
        progress.line({"status": "Pull complete", "id": "l1"}),
        progress.line({"status": "Digest: " + DIGEST}),
    ]
    assert [line for line in lines if line] == [
        "l1: Pulling fs layer",
        "l1: Downloading 25% of 0.0 MB",
        "l1: Downloading 50% of 0.0 MB",
        "l1: Downloading 75% of 0.0 MB",
        "l1: Download complete",
        "l1: Pull complete",
        "Digest: " + DIGEST,
    ]
    assert progress.done == (1000, 1000)
