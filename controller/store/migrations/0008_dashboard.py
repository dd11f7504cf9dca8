from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_reporting')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Deployment',
            name='requested_by',
            field=fields.CharField(max_length=64, default='', db_default=''),
        ),
        ops.AddField(
            model_name='Deployment',
            name='stage_times',
            field=fields.JSONField(default=dict, db_default='{}'),
        ),
        ops.AddIndex(
            model_name='Deployment',
            index=Index(fields=['is_active', 'app_id']),
        ),
    ]
