"""The sections that look outwards: the process log ([log]), Prometheus metrics ([metrics]) and
notifications with their delivery outbox ([notify])."""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from controller.config.sections import LOOPBACK_HOSTS, MAX_PORT, Section


class LogSettings(Section):
    # "text": one human line per record; "json": one JSON object per line, for log shippers.
    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # One line per HTTP request and WebSocket: method, path, status, duration, user, request id.
    access_log: bool = True

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class MetricsSettings(Section):
    # GET /metrics answers a scraper that sends `Authorization: Bearer <token>`...
    token: str = Field(default="", repr=False)
    # ...or whose address is in one of these networks ("127.0.0.1/32"); nobody when both are empty.
    allow_from: tuple[str, ...] = ()

    @field_validator("allow_from", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an address or network") from None
        return value


class NotifySettings(Section):
    # The outbox's retries: base * 2^(attempt - 1) seconds, at most retry_max_seconds.
    retry_base_seconds: float = Field(default=2.0, ge=0.01, le=600)
    retry_max_seconds: float = Field(default=600.0, ge=0.01, le=86_400)
    max_attempts: int = Field(default=10, ge=1, le=100)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Notifications sent at once (GitHub's requests always go one at a time).
    concurrency: int = Field(default=4, ge=1, le=64)
    # Delivered and failed messages are forgotten after this many days.
    keep_days: int = Field(default=7, ge=1, le=3650)
    # Email targets: the SMTP server (empty host: email targets fail with that reason).
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=MAX_PORT)
    smtp_username: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_from: str = "fogbank@localhost"
    # "starttls" (port 587), "tls" (implicit TLS, port 465) or "none" (loopback relays only).
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"

    @model_validator(mode="after")
    def _no_clear_text_off_host(self) -> NotifySettings:
        # Mail and its password in clear text only to a relay on this machine.
        if self.smtp_security == "none" and self.smtp_host and self.smtp_host not in LOOPBACK_HOSTS:
            raise ValueError('smtp_security = "none" is allowed only with a loopback smtp_host')
        return self
