"""The Editor group may look at reader emails (a reader asking where their confirmation link
went is an editor's question); nobody changes or deletes them in the admin."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

EDITOR_GROUP = "Editor"
EDITOR_PERMISSIONS = ("view_readeremail",)


def grant(apps, schema_editor) -> None:
    # Permissions are normally created after migrate; the group needs them now.
    create_permissions(global_apps.get_app_config("newsletter"), apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=EDITOR_GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="newsletter", codename__in=EDITOR_PERMISSIONS
        )
    )


def revoke(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = Permission.objects.filter(
        content_type__app_label="newsletter", codename__in=EDITOR_PERMISSIONS
    )
    for group in Group.objects.filter(name=EDITOR_GROUP):
        group.permissions.remove(*wanted)


class Migration(migrations.Migration):
    dependencies = [("newsletter", "0005_reader_email")]

    operations = [migrations.RunPython(grant, revoke)]
