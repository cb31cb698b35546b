"""The "Editor" group: what the newsroom's editors need for their morning routine, no more.

Editors curate topics and articles, look after sources (fetch now, activate, add), manage
readers (import, export, edit) and send digests (preview, test, send, pause, resume, retry).
They delete nothing, manage no users, and only look at the task queue's outcomes.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Editor"
PERMISSIONS = {
    "topics": {
        "source": ("view", "add", "change"),
        "article": ("view", "change"),
        "topic": ("view", "change"),
        # The editable tag list and categories (may not exist in older states).
        "tag": ("view", "add", "change"),
        "topiccategory": ("view", "add", "change"),
    },
    "newsletter": {
        "subscriber": ("view", "add", "change"),
        "digest": ("view", "change"),
        "delivery": ("view",),
    },
    "django_q": {"failure": ("view",), "success": ("view",), "schedule": ("view",)},
}


def codenames_for(apps, app_label: str) -> list[str]:
    models = {model._meta.model_name for model in apps.get_app_config(app_label).get_models()}
    return [
        f"{action}_{model}"
        for model, actions in PERMISSIONS[app_label].items()
        if model in models
        for action in actions
    ]


def create_editor_group(apps, schema_editor) -> None:
    # Permissions are normally created after migrate; this group needs them now.
    for label in PERMISSIONS:
        create_permissions(global_apps.get_app_config(label), apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    wanted = []
    for label in PERMISSIONS:
        wanted += Permission.objects.filter(
            content_type__app_label=label, codename__in=codenames_for(apps, label)
        )
    group.permissions.set(wanted)


def remove_editor_group(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0001_initial"),
        ("topics", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_editor_group, remove_editor_group)]
