"""The build's stream turned into lines, and the tar it is sent (no Docker: the daemon's side is
in tests/test_build_output.py)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from controller.build.context import (
    LABELLED_DOCKERFILE,
    build_tar,
    label_line,
    labelled_dockerfile,
)
from controller.build.stream import BuildOutput
from controller.errors import BuildError

LABELS = {"fogbank.app": "web", "fogbank.deployment": "7", "fogbank.commit": "ab" * 20}


class Sink:
    def __init__(self) -> None:
        self.lines: list[str] = []

    async def __call__(self, line: str) -> None:
        self.lines.append(line)


async def test_a_line_cut_across_stream_items_is_one_line() -> None:
    sink = Sink()
    output = BuildOutput(sink)
    for text in ["Step 1/2 : RUN x\n", "bench", "line 13", "2 17.5\nnext ", "one\r\n", "tail"]:
        await output.feed({"stream": text})
    assert sink.lines == ["Step 1/2 : RUN x", "benchline 132 17.5", "next one"]
    await output.feed({"aux": {"ID": "sha256:abc"}})
    await output.flush()
    assert sink.lines[-1] == "tail" and output.image_id == "sha256:abc"


async def test_a_status_item_is_a_whole_message_and_an_error_flushes_first() -> None:
    sink = Sink()
    output = BuildOutput(sink)
    await output.feed({"stream": "half"})
    await output.feed({"status": "Pulling fs layer"})
    await output.feed({"stream": "more"})
    with pytest.raises(BuildError, match=r"^docker build failed: boom$"):
        await output.feed({"error": "boom\n", "errorDetail": {"message": "boom"}})
    assert sink.lines == ["half", "Pulling fs layer", "more"]


async def test_an_endless_unterminated_line_is_let_go_in_pieces() -> None:
    sink = Sink()
    output = BuildOutput(sink, max_pending_chars=100)
    for _ in range(10):
        await output.feed({"stream": "x" * 30})
    assert [len(line) for line in sink.lines] == [120, 120]


def test_labels_become_one_quoted_line_and_only_plain_ones() -> None:
    assert label_line(LABELS) == (
        f'LABEL "fogbank.app"="web" "fogbank.commit"="{"ab" * 20}" "fogbank.deployment"="7"'
    )
    assert label_line({"fogbank.app": 'x" \\\nRUN rm -rf /'}) is None
    assert label_line({"fogbank.app": ""}) is None
    assert label_line({}) is None


def test_the_label_line_is_appended_unless_it_could_join_an_instruction() -> None:
    line = label_line(LABELS)
    assert labelled_dockerfile("FROM scratch\nCMD x", LABELS) == f"FROM scratch\nCMD x\n{line}\n"
    assert labelled_dockerfile("FROM scratch\n", LABELS) == f"FROM scratch\n{line}\n"
    assert labelled_dockerfile("FROM scratch\nRUN a \\\n", LABELS) is None
    assert labelled_dockerfile("FROM scratch\nRUN a \\\n\n# note\n", LABELS) is None
    escaped = "# escape=`\nFROM scratch\nRUN a `\n"
    assert labelled_dockerfile(escaped, LABELS) is None
    assert labelled_dockerfile(escaped.replace(" `", " \\"), LABELS) is not None


def tar_members(context: Path) -> dict[str, bytes]:
    labelled = labelled_dockerfile((context / "Dockerfile").read_text(), LABELS)
    assert labelled is not None
    members: dict[str, bytes] = {}
    with build_tar(context, "Dockerfile", labelled) as raw, tarfile.open(fileobj=raw) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member)
            if extracted is not None:
                members[member.name] = extracted.read()
    return members


def test_the_tar_is_the_context_plus_the_labelled_copy_excluded_by_dockerignore(
    tmp_path: Path,
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (tmp_path / "app.py").write_text("print()\n")
    members = tar_members(tmp_path)
    assert members["Dockerfile"] == b"FROM scratch\nCOPY . /app\n"
    assert members["app.py"] == b"print()\n"
    assert members[LABELLED_DOCKERFILE].decode().endswith(f"{label_line(LABELS)}\n")
    # no .dockerignore of its own: the daemon drops this one and the copy alike
    assert members[".dockerignore"] == f".dockerignore\n{LABELLED_DOCKERFILE}\n".encode()


def test_a_repository_dockerignore_is_honoured_and_kept_with_one_more_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".dockerignore").write_text("# secrets\nsecret.txt\nDockerfile")
    (tmp_path / "secret.txt").write_text("s")
    members = tar_members(tmp_path)
    assert "secret.txt" not in members
    assert "Dockerfile" in members  # always sent, as the SDK does
    assert members[".dockerignore"] == (
        f"# secrets\nsecret.txt\nDockerfile\n{LABELLED_DOCKERFILE}\n".encode()
    )
