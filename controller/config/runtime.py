"""The `[runtime]` section: where apps run. The plain Docker engine of this host by default;
Docker Swarm services (controller/runtime/swarm/) when `backend = "swarm"`."""

from __future__ import annotations

import ipaddress
import shlex
from typing import Any, Literal

from pydantic import Field, field_validator

from controller.config.sections import Section

HEALTH_PLACEHOLDERS = ("{port}", "{path}")
MIN_PIDS = 16
POOL_SUBNET_PREFIX = 24  # each app network's share of network_pool


class RuntimeSettings(Section):
    backend: Literal["docker", "swarm"] = "docker"
    # host:port of the registry every Swarm node pulls app images from.
    registry: str = "127.0.0.1:5000"
    replicas: int = Field(default=2, ge=1, le=100)
    # Run inside each task (exec form, no shell); {port} and {path} are the app's.
    health_command: str = "wget -q -O /dev/null http://127.0.0.1:{port}{path}"
    # Processes and threads one app container may hold; 0 leaves it unlimited.
    pids_limit: int = Field(default=512, ge=0, le=4_194_304)
    # Each app's containers on a Docker network of their own (false: Docker's default bridge).
    network_per_app: bool = True
    # Where app networks get a /24 once Docker's own address pools are used up ("": nowhere).
    network_pool: str = "10.213.0.0/16"
    # Docker's json-file log cap of every app container: size per file, files kept.
    log_max_size: str = Field(default="10m", pattern=r"^[1-9][0-9]*[kmg]$")
    log_max_files: int = Field(default=3, ge=1, le=100)

    @field_validator("pids_limit")
    @classmethod
    def _room_to_start(cls, value: int) -> int:
        # An init, the app and a shell already take a few; fewer than this only breaks apps.
        if 0 < value < MIN_PIDS:
            raise ValueError(f"must be 0 (unlimited) or at least {MIN_PIDS}")
        return value

    @field_validator("network_pool")
    @classmethod
    def _ipv4_pool(cls, value: str) -> str:
        if not value:
            return value
        try:
            pool = ipaddress.IPv4Network(value)
        except ValueError as exc:
            raise ValueError(f"must be an IPv4 network such as 10.213.0.0/16 ({exc})") from exc
        if pool.prefixlen > POOL_SUBNET_PREFIX:
            raise ValueError(f"must hold at least one /{POOL_SUBNET_PREFIX}")
        return value

    @field_validator("registry")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or "/" in value:
            raise ValueError("must be host:port")
        return value

    @field_validator("health_command")
    @classmethod
    def _words(cls, value: str) -> str:
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot be split into words: {exc}") from exc
        if not words:
            raise ValueError("must name a program")
        return value

    def log_cap(self) -> dict[str, Any]:
        """The Engine's keyword arguments for Docker's json-file log cap."""
        return {"log_max_size": self.log_max_size, "log_max_files": self.log_max_files}

    def health_argv(self, port: int, path: str) -> list[str]:
        """The health command's words with the app's port and path put in (after splitting,
        so a path never becomes a word of its own)."""
        return [
            word.replace("{port}", str(port)).replace("{path}", path)
            for word in shlex.split(self.health_command)
        ]
