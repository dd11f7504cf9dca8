"""The tar a docker build is sent: what the SDK itself would send (.dockerignore honoured, the
Dockerfile always in), plus a copy of the Dockerfile that ends in one LABEL line.

The classic builder turns each `labels=` entry of the build API into a LABEL step of its own,
and each step commits an intermediate container: three labels, three steps. One LABEL line
with all of them is one step. The copy goes in under its own name, listed in the context's
.dockerignore, so the daemon drops it (and the Dockerfile's text, which names the deployment)
from the context before any COPY: a `COPY . .` layer stays cached from one deployment to the
next. Appending is refused (the SDK's labels are used instead) when the Dockerfile ends inside
a line continuation, or when a label is not plain text, so a label never changes an instruction.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import IO

from docker.utils.build import create_archive, exclude_paths

LABELLED_DOCKERFILE = ".fogbank.Dockerfile"
DOCKERIGNORE = ".dockerignore"
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]*$")
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")


def label_line(labels: dict[str, str]) -> str | None:
    """`LABEL "k"="v" ...` for plain keys and values, else None."""
    if not labels or not all(_PLAIN.match(k) and _PLAIN.match(v) for k, v in labels.items()):
        return None
    return "LABEL " + " ".join(f'"{key}"="{value}"' for key, value in sorted(labels.items()))


def labelled_dockerfile(text: str, labels: dict[str, str]) -> str | None:
    """The Dockerfile with one LABEL line appended (the final stage's), or None when that
    line could join the last instruction or a label is not plain text."""
    line = label_line(labels)
    if line is None or _ends_in_continuation(text):
        return None
    return f"{text}{'' if text.endswith(chr(10)) or not text else chr(10)}{line}\n"


def build_tar(context: Path, dockerfile: str, labelled: str) -> IO[bytes]:
    """The context as the SDK would tar it, with `labelled` added as LABELLED_DOCKERFILE
    (excluded by the .dockerignore the daemon reads); a temporary file, at its start."""
    ignore_path = context / DOCKERIGNORE
    original = ignore_path.read_text() if ignore_path.is_file() else None
    patterns = [
        line.strip()
        for line in (original or "").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    # Without a .dockerignore of its own the context gets none: the daemon drops this one too.
    ignore = (
        f"{DOCKERIGNORE}\n{LABELLED_DOCKERFILE}\n"
        if original is None
        else f"{original}{'' if original.endswith(chr(10)) or not original else chr(10)}"
        f"{LABELLED_DOCKERFILE}\n"
    )
    files = sorted(exclude_paths(str(context), patterns, dockerfile=dockerfile))
    tar = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    try:
        create_archive(
            root=str(context),
            files=files,
            fileobj=tar,
            extra_files=[(DOCKERIGNORE, ignore), (LABELLED_DOCKERFILE, labelled)],
        )
    except BaseException:
        tar.close()
        raise
    return tar


def _ends_in_continuation(text: str) -> bool:
    """Whether the last instruction line ends with the escape character (a backslash unless a
    `# escape=` directive says otherwise)."""
    escape = "\\"
    for line in text.splitlines():  # parser directives come first, one per line
        directive = _DIRECTIVE.match(line.strip())
        if directive is None:
            break
        if directive.group(1).lower() == "escape":
            escape = directive.group(2)
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.lstrip().startswith("#")]
    return bool(lines) and lines[-1].endswith(escape)
