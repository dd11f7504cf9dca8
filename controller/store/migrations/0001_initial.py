from tortoise import migrations
from tortoise.migrations import operations as ops
from controller.store.models import AppType, Role, Stage, Status, Trigger
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='App',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=63)),
                ('app_type', fields.CharEnumField(default=AppType.WEB, description='WEB: web\nSERVICE: service\nDATABASE: database', enum_type=AppType, max_length=16)),
                ('git_repository', fields.CharField(default='', max_length=1024)),
                ('git_branch', fields.CharField(default='main', max_length=255)),
                ('root_directory', fields.CharField(default='.', max_length=1024)),
                ('dockerfile_path', fields.CharField(default='Dockerfile', max_length=1024)),
                ('port', fields.IntField(default=3000)),
                ('public_port', fields.IntField(null=True)),
                ('health_check_path', fields.CharField(default='/', max_length=1024)),
                ('health_timeout_seconds', fields.IntField(default=30)),
                ('auto_deploy', fields.BooleanField(default=True)),
                ('template_name', fields.CharField(default='', max_length=255)),
                ('restart_policy', fields.CharField(default='unless-stopped', max_length=32)),
                ('memory_limit_mb', fields.IntField(null=True)),
                ('cpu_limit', fields.FloatField(null=True)),
                ('deployment_counter', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'app', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Deployment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='deployments', on_delete=OnDelete.CASCADE)),
                ('deployment_number', fields.IntField()),
                ('commit_hash', fields.CharField(default='', max_length=40)),
                ('commit_message', fields.TextField(default='', unique=False)),
                ('commit_author', fields.CharField(default='', max_length=512)),
                ('triggered_by', fields.CharEnumField(default=Trigger.MANUAL, description='MANUAL: manual\nWEBHOOK: webhook\nPOLL: poll\nROLLBACK: rollback', enum_type=Trigger, max_length=16)),
                ('status', fields.CharEnumField(default=Status.PENDING, db_index=True, description='PENDING: pending\nBUILDING: building\nDEPLOYING: deploying\nSUCCESS: success\nFAILED: failed\nSTOPPED: stopped\nROLLED_BACK: rolled_back', enum_type=Status, max_length=16)),
                ('stage', fields.CharEnumField(default=Stage.NONE, description='NONE: \nCLONING_REPO: cloning_repo\nBUILDING_IMAGE: building_image\nSTARTING_NEW: starting_new\nSTOPPING_OLD: stopping_old\nCOMPLETED: completed', enum_type=Stage, max_length=16)),
                ('progress', fields.IntField(default=0)),
                ('error_message', fields.TextField(default='', unique=False)),
                ('image_tag', fields.CharField(default='', max_length=255)),
                ('container_id', fields.CharField(default='', max_length=128)),
                ('is_active', fields.BooleanField(default=False)),
                ('rolled_back_from', fields.IntField(null=True)),
                ('duration', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'deployment', 'app': 'models', 'unique_together': (('app', 'deployment_number'),), 'indexes': [Index(fields=['app_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EnvVar',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='envs', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=255)),
                ('value', fields.TextField(unique=False)),
                ('is_secret', fields.BooleanField(default=False)),
                ('is_build_arg', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'env_var', 'app': 'models', 'unique_together': (('app', 'key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=255)),
                ('role', fields.CharEnumField(default=Role.VIEWER, description='VIEWER: viewer\nDEPLOYER: deployer\nADMIN: admin', enum_type=Role, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'user', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'session', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
