from tortoise import migrations
from tortoise.migrations import operations as ops
from controller.store.models import UpdateOrder
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Domain',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='domains', on_delete=OnDelete.CASCADE)),
                ('hostname', fields.CharField(unique=True, max_length=253)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'domain', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('delivery_id', fields.CharField(unique=True, max_length=128)),
                ('event', fields.CharField(max_length=64)),
                ('status_code', fields.IntField()),
                ('response', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'webhook_delivery', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One GitHub delivery (X-GitHub-Delivery), so a redelivery answers the same and does nothing.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='App',
            name='poll_interval_seconds',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='App',
            name='stabilization_seconds',
            field=fields.IntField(default=10, db_default=10),
        ),
        ops.AddField(
            model_name='App',
            name='update_order',
            field=fields.CharEnumField(default=UpdateOrder.START_FIRST, description='START_FIRST: start-first\nSTOP_FIRST: stop-first', db_default='start-first', enum_type=UpdateOrder, max_length=16),
        ),
        ops.AddField(
            model_name='App',
            name='webhook_secret',
            field=fields.CharField(default='', db_default='', max_length=128),
        ),
        ops.AddField(
            model_name='Deployment',
            name='host_port',
            field=fields.IntField(null=True),
        ),
    ]
