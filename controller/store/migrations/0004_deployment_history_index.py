from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_container_stopped')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Deployment',
            name=None,
            fields=['app', 'id'],
        ),
        ops.AddIndex(
            model_name='Deployment',
            index=Index(fields=['app_id', 'id']),
        ),
    ]
