from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_container_stopped')]

    initial = False

    # 0001 once declared this index on the field name `app`, which SQLite took for a string
    # constant and PostgreSQL refuses; 0001 now declares it on `app_id`, and this migration,
    # which replaced that index on existing SQLite databases, has nothing left to do on new ones.
    operations = []
