from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0009_images_volumes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Deployment',
            name='instance',
            field=fields.CharField(max_length=128, default='', db_default=''),
        ),
        ops.CreateModel(
            name='Instance',
            fields=[
                ('name', fields.CharField(max_length=128, primary_key=True, unique=True, db_index=True)),
                ('token', fields.CharField(max_length=32)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('heartbeat_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('lease_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'instance', 'app': 'models', 'pk_attr': 'name'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Lease',
            fields=[
                ('name', fields.CharField(max_length=64, primary_key=True, unique=True, db_index=True)),
                ('holder', fields.CharField(max_length=128)),
                ('lease_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'lease', 'app': 'models', 'pk_attr': 'name'},
            bases=['Model'],
        ),
    ]
