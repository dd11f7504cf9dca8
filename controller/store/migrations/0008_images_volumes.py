from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from controller.store.sealing import SealedTextField

class Migration(migrations.Migration):
    dependencies = [('models', '0007_reporting')]

    initial = False

    operations = [
        ops.AddField(
            model_name='App',
            name='image',
            field=fields.CharField(max_length=1024, default='', db_default=''),
        ),
        ops.AddField(
            model_name='App',
            name='registry_username',
            field=fields.CharField(max_length=255, default='', db_default=''),
        ),
        ops.AddField(
            model_name='App',
            name='registry_password',
            field=SealedTextField('app.registry_password', default='', db_default=''),
        ),
        ops.AddField(
            model_name='App',
            name='volumes',
            field=fields.JSONField(default=list, db_default='[]'),
        ),
        ops.AddField(
            model_name='App',
            name='health_command',
            field=fields.JSONField(default=list, db_default='[]'),
        ),
        ops.AddField(
            model_name='App',
            name='command',
            field=fields.JSONField(default=list, db_default='[]'),
        ),
        ops.AddField(
            model_name='App',
            name='linked_database_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Deployment',
            name='image_digest',
            field=fields.CharField(max_length=80, default='', db_default=''),
        ),
        ops.AddField(
            model_name='Deployment',
            name='image_ref',
            field=fields.CharField(max_length=1024, default='', db_default=''),
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
