"""Give a new site the default, editable list of topic categories."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def seed(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    from topics.categories import seed_default_categories

    seed_default_categories(apps.get_model("topics", "TopicCategory"))


class Migration(migrations.Migration):
    dependencies = [("topics", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
