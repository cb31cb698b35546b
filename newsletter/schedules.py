"""Recurring work, registered by name after every migrate (idempotent)."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from newsletter.models import DigestSchedule

FETCH_ROUND = "Fetch sources and cluster topics"
DAILY_DIGEST = "Build and send the daily digest"
PRUNE = "Prune old articles, deliveries and events"
# Digests scheduled one by one, readers' local mornings, retries after their backoff,
# leases of dead workers.
SEND_DUE = "Send due deliveries"
# Confirmation and goodbye emails whose mail server failed, or whose task was lost.
RETRY_READER_EMAILS = "Retry reader emails"
EVERY_MINUTE = {
    SEND_DUE: "newsletter.tasks.send_due",
    RETRY_READER_EMAILS: "newsletter.readermail.send_due_reader_emails",
}


def register_schedules(**kwargs: Any) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=FETCH_ROUND,
        defaults={
            # Clustering and enrichment are chained by the fetch round itself.
            "func": "topics.tasks.fetch_round",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.DAYBRIEF_FETCH_MINUTES,
            "repeats": -1,
        },
        create_defaults={
            "func": "topics.tasks.fetch_round",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.DAYBRIEF_FETCH_MINUTES,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )
    apply_daily_schedule(DigestSchedule.objects.get_current())
    Schedule.objects.update_or_create(
        name=PRUNE,
        defaults={"func": "newsletter.retention.prune_task", "schedule_type": Schedule.DAILY},
        create_defaults={
            "func": "newsletter.retention.prune_task",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            # Quiet hours, well away from the digest.
            "next_run": timezone.now() + dt.timedelta(hours=12),
        },
    )
    for name, func in EVERY_MINUTE.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": 1,
                "repeats": -1,
            },
        )


def apply_daily_schedule(digest_schedule: DigestSchedule) -> None:
    """Mirror the editors' digest schedule into django-q2's, which workers read on every
    tick: a new time counts from its next occurrence, with no restart. Pausing sets
    `repeats` to 0, which django-q2's scheduler skips."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=DAILY_DIGEST,
        defaults={
            "func": "newsletter.tasks.daily_digest",
            "schedule_type": Schedule.DAILY,
            "repeats": 0 if digest_schedule.paused else -1,
            "next_run": next_digest_time(timezone.now(), digest_schedule.send_time),
        },
    )


def next_daily_run() -> dt.datetime | None:
    """When the daily digest schedule fires next, or None while it is paused."""
    from django_q.models import Schedule

    schedule = Schedule.objects.filter(name=DAILY_DIGEST).exclude(repeats=0).first()
    return schedule.next_run if schedule else None


def next_digest_time(now: dt.datetime, at: dt.time) -> dt.datetime:
    """The next occurrence of the local time `at` in the site's time zone."""
    local_now = timezone.localtime(now)
    candidate = local_now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if candidate <= local_now:
        candidate += dt.timedelta(days=1)
    return candidate
