"""Tables of reporting back: the outbox every outgoing message goes through (GitHub reports and
notifications), notification targets, each app's GitHub settings, and the GitHub deployment
each fogbank deployment became."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields, models

from controller.store.sealing import SealedTextField


class Channel(StrEnum):
    GITHUB = "github"
    WEBHOOK = "webhook"
    SLACK = "slack"
    DISCORD = "discord"
    EMAIL = "email"


class MessageState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class OutboxMessage(models.Model):
    """One message to send, durable from the moment the event happened: the delivery loop
    (controller/notify/courier.py) sends it, retries it, and records how it ended. Messages of
    one `key` are sent one at a time, in id order. No secret is stored here: tokens and signing
    secrets are looked up when the message is sent."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharEnumField(Channel, max_length=16)
    # What to do on the channel: commit_status, deployment, deployment_status, notify.
    action = fields.CharField(max_length=32)
    key = fields.CharField(max_length=255)
    app_id = fields.IntField(null=True)
    app_name = fields.CharField(max_length=63, default="")
    target_id = fields.IntField(null=True)
    deployment_id = fields.IntField(null=True)
    payload = fields.TextField()
    state = fields.CharEnumField(MessageState, max_length=16, default=MessageState.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_message"
        indexes = (("state", "id"),)


class NotificationTarget(models.Model):
    """Where notifications go: a generic webhook (signed), Slack, Discord or email, for one app
    or (app None) for every app, with the events it wants."""

    id = fields.IntField(primary_key=True)
    app: fields.ForeignKeyNullableRelation[models.Model] = fields.ForeignKeyField(
        "models.App", related_name="notification_targets", on_delete=fields.CASCADE, null=True
    )
    name = fields.CharField(max_length=64)
    kind = fields.CharEnumField(Channel, max_length=16)
    # Write-only and sealed, like the secret: a Slack or Discord URL is itself a credential.
    url = SealedTextField("notification_target.url", default="")
    # HMAC-SHA256 key of a generic webhook's signature. Write-only.
    secret = SealedTextField("notification_target.secret", default="")
    email_to = fields.TextField(default="")  # comma-separated addresses
    events = fields.TextField()  # comma-separated event names
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    app_id: int | None

    class Meta:
        table = "notification_target"


class GithubLink(models.Model):
    """An app's own GitHub reporting settings (without a row, the global ones apply)."""

    id = fields.IntField(primary_key=True)
    app: fields.OneToOneRelation[models.Model] = fields.OneToOneField(
        "models.App", related_name="github_link", on_delete=fields.CASCADE
    )
    # Write-only, sealed at rest.
    token = SealedTextField("github_link.token", default="")
    # "owner/name" on GitHub when the app's git URL is not GitHub's (a mirror, a local path).
    repository = fields.CharField(max_length=255, default="")
    commit_statuses = fields.BooleanField(null=True)  # None: github.commit_statuses
    deployments = fields.BooleanField(null=True)  # None: github.deployments
    updated_at = fields.DatetimeField(auto_now=True)

    app_id: int

    class Meta:
        table = "github_link"


class GithubDeployment(models.Model):
    """The GitHub deployment created for a fogbank deployment (its statuses are posted to it)."""

    id = fields.IntField(primary_key=True)
    deployment: fields.OneToOneRelation[models.Model] = fields.OneToOneField(
        "models.Deployment", related_name="github_deployment", on_delete=fields.CASCADE
    )
    github_id = fields.BigIntField()
    repository = fields.CharField(max_length=255)

    deployment_id: int

    class Meta:
        table = "github_deployment"
