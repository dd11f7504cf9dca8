from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0011_shared_logs')]

    initial = False

    # One edge for every instance (controller/edge/switchboard.py): the API addresses it
    # balances over, and the route overrides each instance sets.
    operations = [
        ops.AddField(
            model_name='Instance',
            name='api_address',
            field=fields.CharField(max_length=300, default='', db_default=''),
        ),
        ops.CreateModel(
            name='EdgeOverride',
            fields=[
                ('app_id', fields.IntField(primary_key=True, unique=True, db_index=True)),
                ('ports', fields.CharField(max_length=400)),
                ('instance', fields.CharField(max_length=128)),
            ],
            options={'table': 'edge_override', 'app': 'models', 'pk_attr': 'app_id'},
            bases=['Model'],
        ),
    ]
