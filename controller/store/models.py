"""Tortoise models: the durable state of fogbank. The deployment table is also the queue."""

from __future__ import annotations

from tortoise import fields, models

from controller.store.kinds import (
    IN_FLIGHT,
    TERMINAL,
    AppType,
    Role,
    Stage,
    Status,
    Trigger,
    UpdateOrder,
)
from controller.store.sealing import SealedTextField

# The column values live in kinds.py; importing them from here keeps working.
__all__ = [
    "IN_FLIGHT",
    "TERMINAL",
    "ApiToken",
    "App",
    "AppType",
    "AuditEntry",
    "Deployment",
    "Domain",
    "EnvVar",
    "RegistryCredential",
    "Role",
    "Session",
    "SignupClaim",
    "Stage",
    "Status",
    "Trigger",
    "UpdateOrder",
    "User",
    "WebhookDelivery",
]


class App(models.Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=63, unique=True)
    app_type = fields.CharEnumField(AppType, max_length=16, default=AppType.WEB)
    # Never with credentials: those given in the URL are kept apart, sealed, in git_credential.
    git_repository = fields.CharField(max_length=1024, default="")
    # {"username", "secret"} for an https remote as JSON, sealed; "" for none.
    git_credential = SealedTextField("app.git_credential", default="", db_default="")
    # The app's own ssh key pair for ssh remotes: the private key (OpenSSH format) sealed, the
    # public key shown to users (they add it to the repository as a read-only deploy key).
    deploy_key = SealedTextField("app.deploy_key", default="", db_default="")
    deploy_public_key = fields.CharField(max_length=255, default="", db_default="")
    git_branch = fields.CharField(max_length=255, default="main")
    root_directory = fields.CharField(max_length=1024, default=".")
    dockerfile_path = fields.CharField(max_length=1024, default="Dockerfile")
    port = fields.IntField(default=3000)
    public_port = fields.IntField(null=True)
    health_check_path = fields.CharField(max_length=1024, default="/")
    health_timeout_seconds = fields.IntField(default=30)
    auto_deploy = fields.BooleanField(default=True)
    template_name = fields.CharField(max_length=255, default="")
    restart_policy = fields.CharField(max_length=32, default="unless-stopped")
    memory_limit_mb = fields.IntField(null=True)
    cpu_limit = fields.FloatField(null=True)
    # start-first: zero-downtime swap through the edge; stop-first: Mist's order (databases).
    update_order = fields.CharEnumField(
        UpdateOrder, max_length=16, default=UpdateOrder.START_FIRST, db_default="start-first"
    )
    # After the switch the old container stays, unrouted, this long in case the new one dies.
    stabilization_seconds = fields.IntField(default=10, db_default=10)
    # Per-app GitHub webhook secret, generated at creation (shown to admins only).
    webhook_secret = SealedTextField("app.webhook_secret", default="", db_default="")
    # 0 = no polling; otherwise ask the remote for the branch head this often.
    poll_interval_seconds = fields.IntField(default=0, db_default=0)
    # Stopped on purpose (container/stop): drift repair leaves the container stopped.
    container_stopped = fields.BooleanField(default=False, db_default=False)
    # Last deployment_number handed out; bumped atomically by queue.enqueue.
    deployment_counter = fields.IntField(default=0)
    # Image apps (and template apps): the reference deployed instead of a repository build.
    image = fields.CharField(max_length=1024, default="", db_default="")
    # Credentials for the image's registry; the password write-only (never answered), masked
    # in logs, sealed at rest.
    registry_username = fields.CharField(max_length=255, default="", db_default="")
    registry_password = SealedTextField("app.registry_password", default="", db_default="")
    # [{"name", "mount_path"}]: named Docker volumes owned by the app, kept across deploys.
    volumes = fields.JSONField[list[dict[str, str]]](default=list, db_default="[]")
    # A command run in the container as its health check (argv), instead of a TCP/HTTP probe.
    health_command = fields.JSONField[list[str]](default=list, db_default="[]")
    # The container's command (argv) instead of the image's; set by templates only.
    command = fields.JSONField[list[str]](default=list, db_default="[]")
    # The database app whose connection this app receives as env vars (linkDatabase).
    linked_database_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    envs: fields.ReverseRelation[EnvVar]
    deployments: fields.ReverseRelation[Deployment]
    domains: fields.ReverseRelation[Domain]

    class Meta:
        table = "app"

    @property
    def git_has_credentials(self) -> bool:
        return bool(self.git_credential)


class EnvVar(models.Model):
    id = fields.IntField(primary_key=True)
    app: fields.ForeignKeyRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="envs", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=255)
    # Every value is sealed, secret or not: one rule, and nothing to get wrong on is_secret flips.
    value = SealedTextField("env_var.value")
    is_secret = fields.BooleanField(default=False)
    is_build_arg = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    app_id: int

    class Meta:
        table = "env_var"
        unique_together = (("app", "key"),)


class Deployment(models.Model):
    id = fields.IntField(primary_key=True)
    app: fields.ForeignKeyRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="deployments", on_delete=fields.CASCADE
    )
    deployment_number = fields.IntField()
    # A git commit; for an image deployment the first 40 hex digits of its digest.
    commit_hash = fields.CharField(max_length=40, default="")
    commit_message = fields.TextField(default="")
    commit_author = fields.CharField(max_length=512, default="")
    triggered_by = fields.CharEnumField(Trigger, max_length=16, default=Trigger.MANUAL)
    status = fields.CharEnumField(Status, max_length=16, default=Status.PENDING, db_index=True)
    stage = fields.CharEnumField(Stage, max_length=16, default=Stage.NONE)
    progress = fields.IntField(default=0)
    error_message = fields.TextField(default="")
    image_tag = fields.CharField(max_length=255, default="")
    # Image deployments: the reference asked for (registry/repository:tag); "" for git builds.
    image_ref = fields.CharField(max_length=1024, default="", db_default="")
    # Image deployments: the digest pulled ("sha256:" + 64 hex); a rollback pulls exactly it.
    image_digest = fields.CharField(max_length=80, default="", db_default="")
    container_id = fields.CharField(max_length=128, default="")
    # The loopback port the container's app port is published on (the edge's upstream).
    host_port = fields.IntField(null=True)
    is_active = fields.BooleanField(default=False)
    rolled_back_from = fields.IntField(null=True)
    # Who asked: the user of a manual deploy or rollback; empty for pushes and polls.
    requested_by = fields.CharField(max_length=64, default="", db_default="")
    # The instance (cluster.instance) that claimed it: who recovers it if that instance dies.
    instance = fields.CharField(max_length=128, default="", db_default="")
    # When each stage began: {"cloning_repo": "2025-01-15T10:30:00Z", ...} (the dashboard's
    # timings per stage); the last one ends at finished_at.
    stage_times: dict[str, str] = fields.JSONField(default=dict, db_default="{}")
    duration = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    app_id: int

    class Meta:
        table = "deployment"
        unique_together = (("app", "deployment_number"),)
        # The history query (app_id = ? AND id < ? ORDER BY id DESC): the column, not the
        # relation, since SQLite reads a quoted unknown name ("app") as a string constant.
        # The door's de-duplication (app_id = ? AND commit_hash IN (...)); the active deployment
        # of every app (the dashboard's apps page).
        indexes = (("app_id", "id"), ("app_id", "commit_hash"), ("is_active", "app_id"))


# Columns added after the first release carry db_default so existing rows get a value when the
# migration adds them.


class Domain(models.Model):
    id = fields.IntField(primary_key=True)
    app: fields.ForeignKeyRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="domains", on_delete=fields.CASCADE
    )
    hostname = fields.CharField(max_length=253, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    app_id: int

    class Meta:
        table = "domain"


class WebhookDelivery(models.Model):
    """One GitHub delivery (X-GitHub-Delivery), so a redelivery answers the same and does nothing."""

    id = fields.IntField(primary_key=True)
    delivery_id = fields.CharField(max_length=128, unique=True)
    event = fields.CharField(max_length=64)
    status_code = fields.IntField()
    response = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_delivery"


class RegistryCredential(models.Model):
    """Credentials for one registry host, for every app without its own (password write-only)."""

    id = fields.IntField(primary_key=True)
    registry = fields.CharField(max_length=255, unique=True)
    username = fields.CharField(max_length=255)
    password = SealedTextField("registry_credential.password")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "registry_credential"


class User(models.Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16, default=Role.VIEWER)
    # A disabled user's sessions and tokens are refused; the row (and its audit trail) stays.
    disabled = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"


class SignupClaim(models.Model):
    """The one row that signup of the first admin inserts: a second concurrent signup's insert
    of the same primary key fails, whatever the database, so exactly one first admin exists."""

    id = fields.IntField(primary_key=True)
    # Always 1: the unique index lets only one row exist.
    slot = fields.IntField(unique=True, default=1)
    username = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "signup_claim"


class AuditEntry(models.Model):
    """Who changed what, when, from where: every change made through the API or the CLI."""

    id = fields.IntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    # Names, not foreign keys: the entry outlives a deleted user.
    actor = fields.CharField(max_length=128)
    action = fields.CharField(max_length=64)
    target = fields.CharField(max_length=255, default="")
    address = fields.CharField(max_length=64, default="")

    class Meta:
        table = "audit_entry"


class Session(models.Model):
    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    user_id: int

    class Meta:
        table = "session"


class ApiToken(models.Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64)
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    # None: valid until revoked.
    expires_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "api_token"
