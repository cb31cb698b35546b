"""Building a day's digest: its ranked topics and its frozen list of recipients."""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import dateformat
from django.utils.text import Truncator

from newsletter.models import Delivery, DeliveryStatus, Digest, DigestTopic, Subscriber
from topics.models import Topic

DELIVERY_BATCH = 1000


def build_digest(day: dt.date) -> Digest:
    """The digest for `day`, built on the first call and returned as is afterwards.

    Building freezes both the ranked topics and the recipients (every subscriber confirmed
    at that moment), so running it twice, or from two workers at once, changes nothing.
    """
    existing = find_digest(day)
    if existing is not None:
        return existing
    ranked = Topic.objects.visible().for_day(day).ranked()
    topics = list(ranked[: settings.DAYBRIEF_DIGEST_MAX_TOPICS])
    try:
        with transaction.atomic():
            digest = Digest.objects.create(date=day, subject=digest_subject(day, topics))
            DigestTopic.objects.bulk_create(
                DigestTopic(digest=digest, topic=topic, position=position)
                for position, topic in enumerate(topics, start=1)
            )
            freeze_recipients(digest, has_topics=bool(topics))
    except IntegrityError:
        # Another worker built the same day's digest between our check and our insert.
        digest = find_digest(day)
        if digest is None:
            raise
    return digest


def find_digest(day: dt.date) -> Digest | None:
    return Digest.objects.filter(date=day).first()


def freeze_recipients(digest: Digest, has_topics: bool) -> int:
    """One Delivery per confirmed subscriber; skipped ones when there is nothing to send,
    so the ledger still shows who would have got it and nobody gets an empty email."""
    status = DeliveryStatus.PENDING if has_topics else DeliveryStatus.SKIPPED
    subscriber_ids = Subscriber.objects.confirmed().order_by("pk").values_list("pk", flat=True)
    deliveries = [
        Delivery(digest=digest, subscriber_id=subscriber_id, status=status)
        for subscriber_id in subscriber_ids
    ]
    Delivery.objects.bulk_create(deliveries, batch_size=DELIVERY_BATCH, ignore_conflicts=True)
    return len(deliveries)


def digest_subject(day: dt.date, topics: list[Topic]) -> str:
    """'Daybrief for Thu 26 Nov: <top headline> and 11 more'."""
    prefix = f"Daybrief for {dateformat.format(day, 'D j M')}"
    if not topics:
        return f"{prefix}: no new stories"
    headline = Truncator(" ".join(str(topics[0]).split())).chars(120)
    more = len(topics) - 1
    return f"{prefix}: {headline} and {more} more" if more else f"{prefix}: {headline}"
