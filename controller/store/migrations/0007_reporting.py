from tortoise import migrations
from tortoise.migrations import operations as ops
from controller.store.reporting import Channel, MessageState
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from controller.store.sealing import SealedTextField

class Migration(migrations.Migration):
    dependencies = [('models', '0006_security')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GithubDeployment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('deployment', fields.OneToOneField('models.Deployment', source_field='deployment_id', db_constraint=True, to_field='id', related_name='github_deployment', on_delete=OnDelete.CASCADE)),
                ('github_id', fields.BigIntField()),
                ('repository', fields.CharField(max_length=255)),
            ],
            options={'table': 'github_deployment', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GithubLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.OneToOneField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='github_link', on_delete=OnDelete.CASCADE)),
                ('token', SealedTextField(default='', purpose='github_link.token')),
                ('repository', fields.CharField(default='', max_length=255)),
                ('commit_statuses', fields.BooleanField(null=True)),
                ('deployments', fields.BooleanField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'github_link', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationTarget',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', null=True, db_constraint=True, to_field='id', related_name='notification_targets', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=64)),
                ('kind', fields.CharEnumField(description='GITHUB: github\nWEBHOOK: webhook\nSLACK: slack\nDISCORD: discord\nEMAIL: email', enum_type=Channel, max_length=16)),
                ('url', SealedTextField(default='', purpose='notification_target.url')),
                ('secret', SealedTextField(default='', purpose='notification_target.secret')),
                ('email_to', fields.TextField(default='', unique=False)),
                ('events', fields.TextField(unique=False)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'notification_target', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharEnumField(description='GITHUB: github\nWEBHOOK: webhook\nSLACK: slack\nDISCORD: discord\nEMAIL: email', enum_type=Channel, max_length=16)),
                ('action', fields.CharField(max_length=32)),
                ('key', fields.CharField(max_length=255)),
                ('app_id', fields.IntField(null=True)),
                ('app_name', fields.CharField(default='', max_length=63)),
                ('target_id', fields.IntField(null=True)),
                ('deployment_id', fields.IntField(null=True)),
                ('payload', fields.TextField(unique=False)),
                ('state', fields.CharEnumField(default=MessageState.PENDING, description='PENDING: pending\nDELIVERED: delivered\nFAILED: failed', enum_type=MessageState, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_message', 'app': 'models', 'indexes': [Index(fields=['state', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
