from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0010_instances')]

    initial = False

    # Deployment log lines shared by every instance on PostgreSQL (controller/events/shared_log.py).
    # Plain SQL: the key is (deployment_id, seq), which a Tortoise model cannot declare; SQLite
    # creates the table too but keeps writing logs to files only.
    operations = [
        ops.RunSQL(
            "CREATE TABLE deployment_log_line ("
            " deployment_id INT NOT NULL REFERENCES deployment (id) ON DELETE CASCADE,"
            " seq INT NOT NULL,"
            " line TEXT NOT NULL,"
            " PRIMARY KEY (deployment_id, seq))",
            reverse_sql="DROP TABLE deployment_log_line",
        ),
    ]
