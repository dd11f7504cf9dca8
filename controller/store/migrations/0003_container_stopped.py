from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_edge_webhooks')]

    initial = False

    operations = [
        ops.AddField(
            model_name='App',
            name='container_stopped',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
