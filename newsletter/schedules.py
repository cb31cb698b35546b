"""Recurring work, registered by name after every migrate (idempotent)."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

FETCH_ROUND = "Fetch sources and cluster topics"
DAILY_DIGEST = "Build and send the daily digest"
PRUNE = "Prune old articles, deliveries and events"
# Readers' local mornings, retries after their backoff, leases of dead workers.
SEND_DUE = "Send due deliveries"


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
    Schedule.objects.update_or_create(
        name=DAILY_DIGEST,
        defaults={
            "func": "newsletter.tasks.daily_digest",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            "next_run": next_digest_time(timezone.now()),
        },
    )
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
    Schedule.objects.update_or_create(
        name=SEND_DUE,
        defaults={
            "func": "newsletter.sending.send_due_digests",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def next_digest_time(now: dt.datetime) -> dt.datetime:
    """The next occurrence of DAYBRIEF_DIGEST_TIME in the site's time zone."""
    hour, minute = (int(part) for part in settings.DAYBRIEF_DIGEST_TIME.split(":"))
    local_now = timezone.localtime(now)
    candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local_now:
        candidate += dt.timedelta(days=1)
    return candidate
