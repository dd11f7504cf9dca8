"""Unpacking `git archive` output as it streams, within limits and by explicit rules.

Every member is checked before it is written (count, size, name, type, link target); the
bytes read are counted too. tarfile's "data" filter stays as a second wall behind the rules.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from controller.errors import GitError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

DEFAULT_MAX_CONTEXT_BYTES = 1024 * 1024 * 1024
DEFAULT_MAX_FILES = 100_000
_DRAIN_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    max_context_bytes: int = DEFAULT_MAX_CONTEXT_BYTES
    max_files: int = DEFAULT_MAX_FILES

    def too_large(self) -> GitError:
        return GitError(
            "the commit's tree is larger than build.max_context_bytes "
            f"({self.max_context_bytes} bytes)"
        )

    def too_many(self) -> GitError:
        return GitError(f"the commit's tree has more than build.max_files ({self.max_files}) files")


class UnsafeMember(GitError):
    """A tar member that could write outside the destination or is not a plain file tree."""


@dataclass
class TreeGuard:
    """Admits tar members one by one, as they stream, or refuses with the reason.

    Rules: a relative name without `..`, each name once, nothing below a symlink (so nothing is
    ever written through one), only files, directories and links; a symlink's target may climb
    only with leading `..` and no higher than the tree's root, then only descend; a hard link
    points at a file already extracted. Together these keep every path inside the tree.
    """

    limits: Limits
    members: int = 0
    content_bytes: int = 0
    _names: set[str] = field(default_factory=set)
    _parents: set[str] = field(default_factory=set)
    _files: set[str] = field(default_factory=set)
    _symlinks: set[str] = field(default_factory=set)

    def admit(self, member: tarfile.TarInfo) -> None:
        self.members += 1
        if self.members > self.limits.max_files:
            raise self.limits.too_many()
        self.content_bytes += max(member.size, 0)
        if self.content_bytes > self.limits.max_context_bytes:
            raise self.limits.too_large()
        parts = self._parts(member.name)
        name = "/".join(parts)
        if name in self._names or (name in self._parents and not member.isdir()):
            raise UnsafeMember(f"{name!r} appears twice in the archive")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in self._symlinks:
                raise UnsafeMember(f"{name!r} lies below a symbolic link")
            if parent in self._files:
                raise UnsafeMember(f"{name!r} lies below a file")
            self._parents.add(parent)
        if member.issym():
            self._check_symlink(name, parts, member.linkname)
            self._symlinks.add(name)
        elif member.islnk():
            if "/".join(self._parts(member.linkname)) not in self._files:
                raise UnsafeMember(f"hard link {name!r} points outside the extracted files")
        elif member.isfile():
            self._files.add(name)
        elif not member.isdir():
            raise UnsafeMember(f"{name!r} is not a file, directory or link")
        self._names.add(name)

    def admitted(self, tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
        for member in tar:
            self.admit(member)
            yield member

    @staticmethod
    def _parts(name: str) -> tuple[str, ...]:
        path = PurePosixPath(name)
        if not name or "\x00" in name or path.is_absolute() or ".." in path.parts:
            raise UnsafeMember(f"{name!r} is not a relative path inside the tree")
        if not path.parts or path.parts == (".",):
            raise UnsafeMember(f"{name!r} names the tree itself")
        return path.parts

    @staticmethod
    def _check_symlink(name: str, parts: tuple[str, ...], target: str) -> None:
        if not target or target.startswith("/") or "\x00" in target:
            raise UnsafeMember(f"symbolic link {name!r} points outside the tree")
        steps = [step for step in target.split("/") if step not in ("", ".")]
        climbs = 0
        while climbs < len(steps) and steps[climbs] == "..":
            climbs += 1
        # Leading `..` climb real directories (nothing lies below a symlink); a later `..`
        # could climb out of a symlink's target, so it is refused rather than guessed at.
        if climbs > len(parts) - 1 or ".." in steps[climbs:]:
            raise UnsafeMember(f"symbolic link {name!r} points outside the tree")


class CappedReader(io.RawIOBase):
    """The archive stream, counted: raises once more than `limits.max_context_bytes` arrive."""

    def __init__(self, source: BinaryIO, limits: Limits) -> None:
        self._source = source
        self._limits = limits
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        chunk = self._source.read(len(view))
        self.total += len(chunk)
        if self.total > self._limits.max_context_bytes:
            raise self._limits.too_large()
        view[: len(chunk)] = chunk
        return len(chunk)


def extract(source: BinaryIO, dest: Path, limits: Limits) -> TreeGuard:
    """Unpack the tar stream `source` into `dest`, member by member as it arrives."""
    guard = TreeGuard(limits)
    reader = io.BufferedReader(CappedReader(source, limits))
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        tar.extractall(dest, members=guard.admitted(tar), filter="data")
    while reader.read(_DRAIN_CHUNK):  # the tar's zero padding, so git ends without EPIPE
        pass
    return guard
