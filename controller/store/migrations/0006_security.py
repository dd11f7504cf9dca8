"""Security round 2: sealed secrets, repository credentials apart from the URL, deploy keys,
disabled users, token expiry, the signup claim and the audit log.

The data step is written here in full, not imported, so later code cannot change what this
migration did: credentials leave `app.git_repository` for the sealed `app.git_credential`, and
every webhook secret and env value already stored is sealed with the key open_database installed.
"""

import json
from urllib.parse import unquote, urlsplit

from tortoise import migrations
from tortoise.migrations import operations as ops
from controller.store.sealing import SealedTextField, current
from tortoise import fields


def _split_credentials(url):
    """(the URL without userinfo, the credential JSON or "")."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url, ""
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url, ""
    username, _, secret = userinfo.partition(":")
    if scheme.lower() == "ssh":
        # ssh needs its user name and never reads a password from the URL: drop only that.
        return f"{scheme}://{username}@{host}{slash}{path}", ""
    credential = json.dumps({"username": unquote(username), "secret": unquote(secret)})
    return f"{scheme}://{host}{slash}{path}", credential


class AlterFieldInPlace(ops.AlterField):
    """AlterField to a column of the same storage: nothing to do in SQLite, whose remade table
    would be dropped and, with foreign keys on, take every row that cascades from it (all of an
    app's env vars and deployments). PostgreSQL alters the text column to BYTEA in place; its
    text is kept as UTF-8 bytes (no PostgreSQL database predates this migration: no driver was
    installed before PostgreSQL support, so the table is empty there)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is None or state_editor.client.capabilities.dialect == "sqlite":
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        table = model._meta.db_table
        column = model._meta.fields_map[self.name].source_field or self.name
        default = model._meta.fields_map[self.name].db_default
        await state_editor.client.execute_script(
            f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT;'
            f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE BYTEA'
            f' USING convert_to("{column}", \'UTF8\');'
            + (f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET DEFAULT \'\'::bytea;' if default == "" else "")
        )

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.client.capabilities.dialect != "sqlite":
            await super().database_backward(app_label, old_state, new_state, state_editor)


def _placeholders(client, count):
    if client.capabilities.dialect == "sqlite":
        return ["?"] * count
    return [f"${index}" for index in range(1, count + 1)]


async def seal_existing(apps, schema_editor):
    client = schema_editor.client
    sealer = current()
    a, b, c, d = _placeholders(client, 4)
    for row in await client.execute_query_dict("SELECT id, git_repository, webhook_secret FROM app"):
        url, credential = _split_credentials(row["git_repository"] or "")
        secret = row["webhook_secret"] or ""
        if isinstance(secret, str) and secret:  # text is plain; sealed values are bytes
            secret = sealer.seal(secret, "app.webhook_secret")
        sealed_credential = sealer.seal(credential, "app.git_credential") if credential else ""
        await client.execute_query(
            f"UPDATE app SET git_repository = {a}, git_credential = {b}, webhook_secret = {c} "
            f"WHERE id = {d}",
            [url, sealed_credential, secret, row["id"]],
        )
    for row in await client.execute_query_dict("SELECT id, value FROM env_var"):
        value = row["value"] or ""
        if isinstance(value, str) and value:
            await client.execute_query(
                f"UPDATE env_var SET value = {a} WHERE id = {b}",
                [sealer.seal(value, "env_var.value"), row["id"]],
            )

class Migration(migrations.Migration):
    dependencies = [('models', '0005_deployment_commit_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('actor', fields.CharField(max_length=128)),
                ('action', fields.CharField(max_length=64)),
                ('target', fields.CharField(default='', max_length=255)),
                ('address', fields.CharField(default='', max_length=64)),
            ],
            options={'table': 'audit_entry', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Who changed what, when, from where: every change made through the API or the CLI.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SignupClaim',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slot', fields.IntField(default=1, unique=True)),
                ('username', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'signup_claim', 'app': 'models', 'pk_attr': 'id', 'table_description': "The one row that signup of the first admin inserts: a second concurrent signup's insert"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApiToken',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AlterFieldInPlace(
            model_name='App',
            name='webhook_secret',
            field=SealedTextField(default='', db_default='', purpose='app.webhook_secret'),
        ),
        ops.AddField(
            model_name='App',
            name='deploy_key',
            field=SealedTextField(default='', db_default='', purpose='app.deploy_key'),
        ),
        ops.AddField(
            model_name='App',
            name='deploy_public_key',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='App',
            name='git_credential',
            field=SealedTextField(default='', db_default='', purpose='app.git_credential'),
        ),
        AlterFieldInPlace(
            model_name='EnvVar',
            name='value',
            field=SealedTextField(purpose='env_var.value'),
        ),
        ops.AddField(
            model_name='User',
            name='disabled',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.RunPython(seal_existing),
    ]
