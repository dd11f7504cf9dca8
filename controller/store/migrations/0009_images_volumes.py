"""Image and template apps, volumes, database links, registry credentials.

Columns are only added (an altered column would make SQLite remake the table, dropping its
indexes and, with foreign keys on, every row that cascades from it). The columns of one table
are added by one operation: each operation copies the whole migration state, which is most of
the time a fresh database takes to migrate.
"""

from copy import deepcopy

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.exceptions import IncompatibleStateError

from controller.store.sealing import SealedTextField


class AddFields(ops.TortoiseOperation):
    """Several AddField operations on one model, with one state reload."""

    def __init__(self, model_name, fields):
        self.model_name = model_name
        self.fields = fields

    def describe(self):
        return f"Add fields {', '.join(name for name, _ in self.fields)} to {self.model_name}"

    def state_forward(self, app_label, state):
        model_state = self.get_model_state(state, app_label, self.model_name)
        for name, field in self.fields:
            if name in model_state.fields:
                raise IncompatibleStateError(
                    f"Field {name} already present on model {app_label}.{self.model_name}"
                )
            model_state.fields[name] = deepcopy(field)
        state.reload_models({(app_label, self.model_name)})

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if not state_editor:
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        for name, _ in self.fields:
            await state_editor.add_field(model, name)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if not state_editor:
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        for name, _ in reversed(self.fields):
            await state_editor.remove_field(model, model._meta.fields_map[name])


class Migration(migrations.Migration):
    dependencies = [('models', '0008_dashboard')]

    initial = False

    operations = [
        AddFields(
            model_name='App',
            fields=[
                ('image', fields.CharField(max_length=1024, default='', db_default='')),
                ('registry_username', fields.CharField(max_length=255, default='', db_default='')),
                (
                    'registry_password',
                    SealedTextField('app.registry_password', default='', db_default=''),
                ),
                ('volumes', fields.JSONField(default=list, db_default='[]')),
                ('health_command', fields.JSONField(default=list, db_default='[]')),
                ('command', fields.JSONField(default=list, db_default='[]')),
                ('linked_database_id', fields.IntField(null=True)),
            ],
        ),
        AddFields(
            model_name='Deployment',
            fields=[
                ('image_ref', fields.CharField(max_length=1024, default='', db_default='')),
                ('image_digest', fields.CharField(max_length=80, default='', db_default='')),
            ],
        ),
        ops.CreateModel(
            name='RegistryCredential',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('registry', fields.CharField(max_length=255, unique=True)),
                ('username', fields.CharField(max_length=255)),
                ('password', SealedTextField('registry_credential.password')),
                ('created_at', fields.DatetimeField(auto_now_add=True)),
            ],
            options={'table': 'registry_credential', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Credentials for one registry host, for every app without its own (password write-only).'},
            bases=['Model'],
        ),
    ]
