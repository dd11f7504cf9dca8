from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0004_deployment_history_index")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="Deployment",
            index=Index(fields=["app_id", "commit_hash"]),
        ),
    ]
