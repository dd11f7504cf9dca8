"""Notifications on their way out: a generic webhook (a JSON body signed with HMAC-SHA256, as
GitHub signs its own), a Slack or Discord incoming webhook, and email over SMTP (the standard
library's smtplib, in a thread)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

import httpx

from controller.config import NotifySettings
from controller.notify.attempt import Attempt, classify
from controller.notify.github import user_agent
from controller.store.reporting import Channel, NotificationTarget

SIGNATURE_HEADER = "X-Fogbank-Signature-256"
DISCORD_MAX_CONTENT = 2000


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact body bytes, as X-Hub-Signature-256 is."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_request(
    target: NotificationTarget, payload: dict[str, Any], message_id: int
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a generic webhook: the payload, signed when the target has a
    secret, with the event and a delivery id (the same for every retry)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": user_agent(),
        "X-Fogbank-Event": str(payload["event"]),
        "X-Fogbank-Delivery": str(message_id),
    }
    if target.secret:
        headers[SIGNATURE_HEADER] = signature(target.secret, body)
    return body, headers


def chat_body(kind: Channel, payload: dict[str, Any]) -> dict[str, Any]:
    text = str(payload["message"])
    deployment = payload.get("deployment")
    if deployment:
        text += f"\n{deployment['url']}"
    if kind is Channel.DISCORD:
        return {"content": text[:DISCORD_MAX_CONTENT], "username": "fogbank"}
    return {"text": text}


async def send_http(
    client: httpx.AsyncClient, target: NotificationTarget, payload: dict[str, Any], message_id: int
) -> Attempt:
    if not target.url:
        return Attempt.failed("the target has no URL", permanent=True)
    if target.kind is Channel.WEBHOOK:
        body, headers = webhook_request(target, payload, message_id)
        response = await client.post(target.url, content=body, headers=headers)
    else:
        response = await client.post(
            target.url, json=chat_body(target.kind, payload), headers={"User-Agent": user_agent()}
        )
    return classify(response)


def email_message(settings: NotifySettings, to: list[str], payload: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(to)
    message["Subject"] = f"[fogbank] {payload['message']}"[:200]
    lines = [str(payload["message"]), ""]
    deployment = payload.get("deployment")
    if deployment:
        lines += [f"{key}: {value}" for key, value in deployment.items() if value not in ("", None)]
    if payload.get("detail"):
        lines.append(f"detail: {payload['detail']}")
    message.set_content("\n".join(lines) + "\n")
    return message


def _smtp_send(settings: NotifySettings, message: EmailMessage, timeout: float) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)


async def send_email(
    settings: NotifySettings, target: NotificationTarget, payload: dict[str, Any]
) -> Attempt:
    to = [address.strip() for address in target.email_to.split(",") if address.strip()]
    if not settings.smtp_host:
        return Attempt.failed("notify.smtp_host is not set", permanent=True)
    if not to:
        return Attempt.failed("the target has no email address", permanent=True)
    message = email_message(settings, to, payload)
    try:
        await asyncio.to_thread(_smtp_send, settings, message, settings.timeout_seconds)
    except smtplib.SMTPResponseException as exc:
        # 4xx: the server asks to come back later; 5xx: it refuses this message for good.
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return Attempt.failed(f"SMTP {exc.smtp_code}: {text}", permanent=exc.smtp_code >= 500)
    except (smtplib.SMTPException, OSError) as exc:
        return Attempt.failed(f"SMTP: {type(exc).__name__}: {exc}")
    return Attempt.delivered()
