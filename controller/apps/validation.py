"""Validation of user-supplied app fields. Everything here is refused with ValidationFailed (422)
before it can reach git, docker or the file system."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from controller.errors import ValidationFailed
from controller.runtime import restart_policy as restart_policies
from controller.runtime.reference import parse as parse_reference

APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
# git check-ref-format, simplified to a safe subset.
BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/-]{1,255}(?<!\.lock)(?<![/.])$")
# user and host never start with '-': ssh would read "-oProxyCommand=..." as an option.
SCP_LIKE = re.compile(
    r"^(?P<user>[A-Za-z0-9_][A-Za-z0-9._-]*)@(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?P<path>[^\s]+)$"
)
VOLUME_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
MAX_VOLUMES = 16
MAX_ENV_VALUE_CHARS = 32 * 1024
COMMIT = re.compile(r"^[0-9a-fA-F]{7,40}$")
# An absolute URL path: no whitespace, NUL or fragment.
HTTP_PATH = re.compile(r"^/[^\s#\x00]*$")
HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
REMOTE_SCHEMES = {"https", "ssh"}
LOCAL_SCHEMES = {"file"}


def app_name(name: str) -> str:
    if not APP_NAME.fullmatch(name):
        raise ValidationFailed(
            "name must be 1-63 lowercase letters, digits or '-', starting with a letter or digit"
        )
    return name


def repository(url: str, *, allow_local: bool) -> str:
    """A git URL fogbank may fetch: https, ssh or scp-like; file:// and paths only when allowed."""
    url = url.strip()
    if not url:
        raise ValidationFailed("gitRepository is required")
    if url.startswith("-") or "::" in url or any(ch in url for ch in "\x00\n\r\t "):
        raise ValidationFailed("gitRepository is not a valid git URL")
    if SCP_LIKE.fullmatch(url):
        return url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in REMOTE_SCHEMES:
        if not parts.hostname:
            raise ValidationFailed("gitRepository has no host")
        if parts.hostname.startswith("-") or (parts.username or "").startswith("-"):
            raise ValidationFailed("gitRepository host and user must not start with '-'")
        return url
    if scheme in LOCAL_SCHEMES or (not scheme and url.startswith("/")):
        if not allow_local:
            raise ValidationFailed(
                "local repositories (file:// or paths) are disabled; set git.allow_local = true"
            )
        return url
    raise ValidationFailed("gitRepository must use https://, ssh:// or git@host:path")


def branch(name: str) -> str:
    if not BRANCH.fullmatch(name):
        raise ValidationFailed(f"gitBranch '{name[:80]}' is not a valid branch name")
    return name


def relative_path(field: str, value: str) -> str:
    """A path inside the repository: relative, no '..', no NUL, normalised."""
    if not value or "\x00" in value or value.startswith("-"):
        raise ValidationFailed(f"{field} must be a relative path inside the repository")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value:
        raise ValidationFailed(f"{field} must stay inside the repository (no '..' or leading '/')")
    return str(path)


def http_path(field: str, value: str) -> str:
    if not HTTP_PATH.fullmatch(value):
        raise ValidationFailed(f"{field} must be an absolute URL path such as /health")
    return value


def restart_policy(value: str) -> str:
    if not restart_policies.PATTERN.fullmatch(value):
        raise ValidationFailed(
            f"restartPolicy must be one of: {', '.join(restart_policies.NAMES)} "
            "(on-failure may name a retry count, e.g. on-failure:5)"
        )
    return value


def env_key(key: str) -> str:
    if not ENV_KEY.fullmatch(key):
        raise ValidationFailed(
            "env key must start with a letter or '_' and hold only letters, digits and '_'"
        )
    return key


def env_value(value: str) -> str:
    if "\x00" in value:
        raise ValidationFailed("env value must not contain NUL")
    if len(value) > MAX_ENV_VALUE_CHARS:
        raise ValidationFailed("env value must be at most 32 KiB")
    return value


def commit(value: str) -> str:
    if not COMMIT.fullmatch(value):
        raise ValidationFailed("commitHash must be 7-40 hexadecimal characters")
    return value.lower()


def hostname(value: str) -> str:
    """A domain for the edge: an RFC 1123 host name, returned lowercase. Dot-separated labels of
    1-63 letters, digits or '-' (not at either end), 253 characters at most; no scheme, port,
    path, spaces, wildcard or IP address."""
    if not value:
        raise ValidationFailed("hostname is required")
    if any(ch.isspace() for ch in value):
        raise ValidationFailed("hostname must not contain spaces")
    if any(ch in value for ch in ":/?#@"):
        raise ValidationFailed(
            "hostname must be a bare host name such as app.example.com (no scheme, port or path)"
        )
    name = value.lower()
    if len(name) > 253:
        raise ValidationFailed("hostname must be at most 253 characters")
    if not all(HOST_LABEL.fullmatch(label) for label in name.split(".")):
        raise ValidationFailed(
            "hostname labels must be 1-63 letters, digits or '-', not starting or ending with '-'"
        )
    if name.replace(".", "").isdigit():
        raise ValidationFailed("hostname must be a host name, not an IP address")
    return name


def image(value: str) -> str:
    """An image reference Docker can pull (registry/repository:tag or @sha256:digest)."""
    try:
        parse_reference(value)
    except ValueError as exc:
        raise ValidationFailed(f"image: {exc}") from exc
    return value


def volumes(value: list[dict[str, str]]) -> list[dict[str, str]]:
    """An app's volumes, `[{"name", "mount_path"}]`: names as Docker volume names allow, mount
    paths absolute and normalised (not "/"), each name and path once."""
    if len(value) > MAX_VOLUMES:
        raise ValidationFailed(f"volumes: at most {MAX_VOLUMES}")
    checked: list[dict[str, str]] = []
    for index, item in enumerate(value):
        name = item.get("name", "")
        if not VOLUME_NAME.fullmatch(name):
            raise ValidationFailed(
                f"volumes[{index}].name must be 1-63 lowercase letters, digits, '_', '.' or '-'"
            )
        path = mount_path(f"volumes[{index}].mountPath", item.get("mount_path", ""))
        checked.append({"name": name, "mount_path": path})
    for key, label in (("name", "name"), ("mount_path", "mountPath")):
        seen = [volume[key] for volume in checked]
        if len(set(seen)) != len(seen):
            raise ValidationFailed(f"volumes: each {label} may appear once")
    return checked


def mount_path(field: str, value: str) -> str:
    if not value.startswith("/") or len(value) > 1024:
        raise ValidationFailed(f"{field} must be an absolute path in the container")
    # ':' and ',' separate the parts of a Docker mount; '..' could leave the intended place.
    if any(ch in value for ch in ":,\x00\n\r") or ".." in value.split("/"):
        raise ValidationFailed(f"{field} must not contain ':', ',', '..' or control characters")
    path = str(PurePosixPath(value))
    if path == "/":
        raise ValidationFailed(f"{field} must not be the container's root")
    return path


def redact_url(url: str) -> str:
    """The URL without user:password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return parts._replace(netloc=host).geturl()
