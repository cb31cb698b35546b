"""The newsroom's morning view on the admin index: is the pipeline healthy, what are today's
topics, and where is the next digest."""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db.models import Max
from django.utils import timezone
from django_q.models import Failure, Success

from newsletter import scheduling, sending
from newsletter.models import Digest
from topics.models import Source, Topic

logger = logging.getLogger(__name__)

# The tasks whose last success tells when topics were last clustered.
CLUSTERING_TASKS = ("topics.tasks.fetch_round", "topics.tasks.refresh_topics")
FAILED_TASK_HOURS = 24
TOP_TOPICS = 8
FAILING_SOURCES = 5


@dataclass
class Dashboard:
    last_fetch_at: dt.datetime | None
    failing_sources: list[Source]
    failing_count: int
    last_clustering_at: dt.datetime | None
    queue_length: int | None
    failed_tasks: int
    today: dt.date
    topics: list[Topic]
    topic_count: int
    digest: Digest | None
    digest_counts: dict[str, int] = field(default_factory=dict)
    # The next time a digest starts going out (one-off or daily); None while paused.
    next_send: scheduling.NextSend | None = None


def build_dashboard(now: dt.datetime) -> Dashboard:
    """About a dozen small queries, whatever the size of the tables (each is indexed or
    bounded; see the comments)."""
    today = timezone.localdate(now)
    failing = Source.objects.filter(is_active=True, consecutive_errors__gt=0)
    todays = Topic.objects.visible().for_day(today)
    digest = Digest.objects.filter(date__gte=today).order_by("date").first()
    return Dashboard(
        last_fetch_at=Source.objects.aggregate(last=Max("last_fetched_at"))["last"],
        failing_sources=list(failing.order_by("-consecutive_errors", "name")[:FAILING_SOURCES]),
        failing_count=failing.count(),
        last_clustering_at=last_clustering_at(),
        queue_length=queue_length(),
        failed_tasks=Failure.objects.filter(
            stopped__gte=now - dt.timedelta(hours=FAILED_TASK_HOURS)
        ).count(),
        today=today,
        topics=list(todays.ranked()[:TOP_TOPICS]),
        # Counting one day's topics is bounded by that day's articles (indexed by first_seen_at).
        topic_count=todays.count(),
        digest=digest,
        digest_counts=delivery_counts(digest),
        next_send=scheduling.next_send(now),
    )


def last_clustering_at() -> dt.datetime | None:
    task = Success.objects.filter(func__in=CLUSTERING_TASKS).order_by("-stopped").first()
    return task.stopped if task else None


def queue_length() -> int | None:
    """Tasks waiting in the broker, or None when the broker cannot be asked."""
    from django_q.brokers import get_broker

    try:
        return int(get_broker().queue_size())
    except Exception:  # a dashboard must open even when the broker is down
        logger.warning("Cannot read the task queue's length", exc_info=True)
        return None


def delivery_counts(digest: Digest | None) -> dict[str, int]:
    if digest is None:
        return {}
    return {status: n for status, n in sending.delivery_counts(digest.pk).items() if n}
