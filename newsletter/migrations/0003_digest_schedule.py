"""Editors set when the daily digest goes out and schedule single digests (issue #8).

The Editor group (0002_editor_group) gets to view and change the digest schedule. Sending
one digest at a chosen time needs no new permission: it is a digest control, like "Send
now", and takes change_digest, which editors already hold.
"""

import django.utils.timezone
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

import newsletter.models

EDITOR_GROUP = "Editor"
EDITOR_PERMISSIONS = ("view_digestschedule", "change_digestschedule")


def grant_schedule_permissions(apps, schema_editor) -> None:
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


def revoke_schedule_permissions(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name=EDITOR_GROUP):
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="newsletter", codename__in=EDITOR_PERMISSIONS
            )
        )


class Migration(migrations.Migration):

    dependencies = [
        ('newsletter', '0002_editor_group'),
    ]

    operations = [
        migrations.CreateModel(
            name='DigestSchedule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('send_time', models.TimeField(default=newsletter.models.default_send_time, help_text="The site's local time at which the day's digest is built and starts sending. Readers who chose a later morning hour still get it at that hour.")),
                ('paused', models.BooleanField(default=False, help_text='No daily digest is built or sent while paused; digests scheduled one by one still go out.')),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name': 'digest schedule',
                'verbose_name_plural': 'digest schedule',
            },
        ),
        migrations.CreateModel(
            name='ScheduledSend',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField(unique=True)),
                ('send_at', models.DateTimeField()),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['send_at'],
                'indexes': [models.Index(fields=['started_at', 'send_at'], name='scheduledsend_due_idx')],
            },
        ),
        migrations.RunPython(grant_schedule_permissions, revoke_schedule_permissions),
    ]
