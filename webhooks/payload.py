"""Typed reading of GitHub `push` and `ping` payloads, and repository identity.

A repository is known by many spellings (https, ssh, scp-like `git@host:owner/name`, git://,
`owner/name`); `normalise_repository` maps each to one lowercase key so an app's URL and a
payload's URLs compare equal when they name the same repository. A payload whose spellings name
different repositories is refused.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from controller.errors import BadRequest
from controller.source.identity import normalise_repository, split_repository

ZERO_SHA = "0" * 40
_SHA = re.compile(r"^[0-9a-f]{40}$")
# The payload keys that spell the repository's location.
_URL_KEYS = ("clone_url", "ssh_url", "git_url", "html_url", "url", "svn_url")
_BRANCH_PREFIX = "refs/heads/"


@dataclass(frozen=True)
class HeadCommit:
    message: str
    author: str


@dataclass(frozen=True)
class Push:
    ref: str
    after: str
    deleted: bool
    head_commit: HeadCommit | None
    repository_name: str

    @property
    def branch(self) -> str | None:
        """The pushed branch, or None when the ref is not a branch (a tag, a note...)."""
        return self.ref[len(_BRANCH_PREFIX) :] if self.ref.startswith(_BRANCH_PREFIX) else None

    @property
    def is_deletion(self) -> bool:
        return self.deleted or self.after == ZERO_SHA


@dataclass(frozen=True)
class Ping:
    zen: str
    hook_id: int | None


def decode(raw: bytes, content_type: str) -> dict[str, Any]:
    """The payload object of a delivery sent as JSON or as GitHub's form encoding."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("webhook body is not UTF-8 text") from exc
    if content_type.partition(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        form = parse_qs(text)
        text = form.get("payload", [""])[0]
    if not text.strip():
        raise BadRequest("webhook body must be a JSON object")
    try:
        data = json.loads(text)
    except RecursionError:
        raise BadRequest("webhook body is nested too deeply to be a GitHub payload") from None
    except ValueError as exc:
        raise BadRequest(f"webhook body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("webhook body must be a JSON object")
    return data


@functools.lru_cache(maxsize=4096)
def app_repository_key(url: str) -> str | None:
    """normalise_repository of an app's own URL, remembered: those come from the database and
    are few. Strings from requests are never cached (each delivery could add its own)."""
    return normalise_repository(url)


def repository_key(payload: Mapping[str, Any]) -> str | None:
    """The normalised key of the one repository the payload names (None when it names none).

    Every location it gives (clone_url, ssh_url, ...) must name the same repository, and when
    they have a host, full_name must be that repository's `owner/name`: a delivery naming two
    repositories is refused (BadRequest), so it never reaches the apps of a second one.
    """
    repository = payload.get("repository")
    if not isinstance(repository, dict):
        return None
    located: dict[str, tuple[str, str]] = {}
    for key in _URL_KEYS:
        value = repository.get(key)
        split = split_repository(value) if isinstance(value, str) else None
        if split is not None:
            located[key] = split
    full_name = repository.get("full_name")
    name = split_repository(full_name) if isinstance(full_name, str) else None
    if len(set(located.values())) > 1:
        raise _disagree(located)
    if not located:
        return name[1] if name is not None else None
    host, path = next(iter(located.values()))
    if host and name is not None and name != ("", path):
        raise _disagree({**located, "full_name": name})
    return f"{host}/{path}" if host else path


def _disagree(located: Mapping[str, tuple[str, str]]) -> BadRequest:
    named = ", ".join(f"{key} {'/'.join(filter(None, split))}" for key, split in located.items())
    return BadRequest(
        f"the delivery names more than one repository ({named}); it is refused",
        code="REPOSITORIES_DISAGREE",
    )


def repository_name(payload: Mapping[str, Any]) -> str:
    """The repository's `owner/name` for messages, or '' when the payload has none."""
    repository = payload.get("repository")
    if isinstance(repository, dict) and isinstance(repository.get("full_name"), str):
        return str(repository["full_name"])
    return ""


def parse_push(payload: Mapping[str, Any]) -> Push:
    """The fields of a push event fogbank acts on; 400 when they are missing or malformed."""
    ref = payload.get("ref")
    if not isinstance(ref, str) or not ref:
        raise BadRequest("push payload has no 'ref'")
    after = payload.get("after")
    if not isinstance(after, str) or not _SHA.fullmatch(after.lower()):
        raise BadRequest("push payload's 'after' is not a 40-hex commit sha")
    deleted = payload.get("deleted", False)
    return Push(
        ref=ref,
        after=after.lower(),
        deleted=deleted is True,
        head_commit=_head_commit(payload.get("head_commit")),
        repository_name=repository_name(payload),
    )


def parse_ping(payload: Mapping[str, Any]) -> Ping:
    """The zen line and hook id of a ping (both optional)."""
    zen = payload.get("zen")
    hook_id = payload.get("hook_id")
    return Ping(
        zen=zen if isinstance(zen, str) else "",
        hook_id=hook_id if isinstance(hook_id, int) and not isinstance(hook_id, bool) else None,
    )


def _head_commit(raw: object) -> HeadCommit | None:
    if not isinstance(raw, dict):
        return None
    message = raw.get("message")
    author = raw.get("author")
    name = email = ""
    if isinstance(author, dict):
        name = str(author.get("name") or "")
        email = str(author.get("email") or "")
    # Same shape as git's "%an <%ae>", which manual and poll deployments record.
    spelled = f"{name} <{email}>" if email else name
    return HeadCommit(message=message if isinstance(message, str) else "", author=spelled)
