"""Pruning old rows: articles, deliveries, events and reader emails after configurable times.

What a digest still needs is never touched: a digest that is not fully sent keeps its
deliveries and its topics' articles, every digest keeps its topics and their lead
articles (the archive pages show them), and nothing inside the clustering window goes.
Rows go in primary-key batches so no delete holds locks for long.
"""

import datetime as dt
import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django_q.models import Task

from newsletter.models import (
    Delivery,
    DeliveryStatus,
    DigestStatus,
    DigestTopic,
    ReaderEmail,
    ReaderEmailStatus,
    WebhookEvent,
)
from topics.models import Article, Topic
from topics.pagecache import one_change_for_many

logger = logging.getLogger(__name__)

BATCH = 2000
# Rows a sender may still act on.
LIVE_DELIVERY = [DeliveryStatus.PENDING, DeliveryStatus.SENDING]


@dataclass
class PruneResult:
    articles: int = 0
    topics: int = 0
    deliveries: int = 0
    events: int = 0
    tasks: int = 0
    reader_emails: int = 0


def prune_old_data(now: dt.datetime) -> PruneResult:
    """Delete what is older than the DAYBRIEF_RETAIN_*_DAYS settings (0 keeps forever)."""
    result = PruneResult()
    article_days = settings.DAYBRIEF_RETAIN_ARTICLES_DAYS
    if article_days:
        cutoff = article_cutoff(now, article_days)
        with one_change_for_many():  # every deleted row retires the cached pages
            result.articles = delete_in_batches(prunable_articles(cutoff))
            result.topics = delete_in_batches(prunable_topics(cutoff))
    if settings.DAYBRIEF_RETAIN_DELIVERIES_DAYS:
        cutoff = now - dt.timedelta(days=settings.DAYBRIEF_RETAIN_DELIVERIES_DAYS)
        result.deliveries = delete_in_batches(prunable_deliveries(cutoff))
    if settings.DAYBRIEF_RETAIN_EVENTS_DAYS:
        cutoff = now - dt.timedelta(days=settings.DAYBRIEF_RETAIN_EVENTS_DAYS)
        result.events = delete_in_batches(prunable_events(cutoff))
        result.tasks = delete_in_batches(Task.objects.filter(stopped__lt=cutoff))
        result.reader_emails = delete_in_batches(prunable_reader_emails(cutoff))
    logger.info("Pruned old data: %s", result)
    return result


def article_cutoff(now: dt.datetime, days: int) -> dt.datetime:
    # Never inside the clustering window, whatever the setting says.
    window = dt.timedelta(hours=settings.DAYBRIEF_CLUSTER_WINDOW_HOURS)
    return now - max(dt.timedelta(days=days), window + dt.timedelta(days=1))


def prunable_articles(cutoff: dt.datetime) -> QuerySet[Article]:
    in_unsent_digest = DigestTopic.objects.exclude(digest__status=DigestStatus.SENT)
    digest_leads = Topic.objects.filter(digest_items__isnull=False, lead_article__isnull=False)
    return (
        Article.objects.filter(first_seen_at__lt=cutoff, published_at__lt=cutoff)
        .exclude(topic__in=in_unsent_digest.values("topic"))
        .exclude(pk__in=digest_leads.values("lead_article"))
    )


def prunable_topics(cutoff: dt.datetime) -> QuerySet[Topic]:
    """Old topics no digest shows and no article belongs to any more."""
    old = Topic.objects.filter(Q(latest_at__lt=cutoff) | Q(latest_at__isnull=True))
    return old.filter(created_at__lt=cutoff, digest_items__isnull=True, articles__isnull=True)


def prunable_deliveries(cutoff: dt.datetime) -> QuerySet[Delivery]:
    return Delivery.objects.filter(created_at__lt=cutoff, digest__status=DigestStatus.SENT).exclude(
        status__in=LIVE_DELIVERY
    )


def prunable_events(cutoff: dt.datetime) -> QuerySet[WebhookEvent]:
    # Unprocessed events wait for their task, however old.
    return WebhookEvent.objects.filter(received_at__lt=cutoff, processed_at__isnull=False)


def prunable_reader_emails(cutoff: dt.datetime) -> QuerySet[ReaderEmail]:
    # Confirmation and goodbye emails are kept as long as webhook events: the operator's
    # record of what was sent, gone once nobody will ask. Live ones wait for their send.
    return ReaderEmail.objects.filter(created_at__lt=cutoff).exclude(
        status__in=[ReaderEmailStatus.PENDING, ReaderEmailStatus.SENDING]
    )


def delete_in_batches(rows: QuerySet[Model]) -> int:
    """Delete `rows` (Django's delete, so SET_NULL and cascades apply); how many went."""
    # Deletion counts proxies under their concrete model (None only for abstract ones).
    label = (rows.model._meta.concrete_model or rows.model)._meta.label
    deleted = 0
    while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            # Re-applying the filter: a row that became live since we listed it stays.
            _, per_model = rows.filter(pk__in=ids).delete()
        if not per_model.get(label):
            break
        deleted += per_model[label]
    return deleted


def prune_task() -> dict[str, int]:
    """The daily schedule's entry point (newsletter/schedules.py)."""
    return asdict(prune_old_data(timezone.now()))
