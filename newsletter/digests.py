"""Building a day's digest: its ranked topics and its frozen list of recipients."""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import dateformat
from django.utils.text import Truncator

from newsletter import continuity
from newsletter.continuity import Placement
from newsletter.models import Delivery, DeliveryStatus, Digest, DigestTopic, Subscriber
from newsletter.segments import Segment, make_segment
from topics.models import Topic

DELIVERY_BATCH = 1000
# The day's edition: every reader's email is picked from these, and the web archive shows
# them all. Far more than any email carries, so narrow preferences still find their stories.
POOL_SIZE = 100
NOTHING_TODAY = "No stories today."
NOTHING_MATCHED = "Nothing today matched the reader's preferences."


def build_digest(day: dt.date) -> Digest:
    """The digest for `day`, built on the first call and returned as is afterwards.

    Building freezes the ranked topics (stories already sent only if they grew since, see
    newsletter/continuity.py) and the recipients (every subscriber confirmed at that
    moment, each with their preference segment), so running it twice, or from two workers
    at once, changes nothing.
    """
    existing = find_digest(day)
    if existing is not None:
        return existing
    ranked = Topic.objects.visible().for_day(day).ranked()
    placements = continuity.place_topics(day, ranked[: POOL_SIZE * 2])[:POOL_SIZE]
    topics = [placement.topic for placement in placements]
    try:
        with transaction.atomic():
            digest = Digest.objects.create(date=day, subject=digest_subject(day, topics))
            DigestTopic.objects.bulk_create(digest_topics(digest, placements))
            freeze_recipients(digest, topics)
    except IntegrityError:
        # Another worker built the same day's digest between our check and our insert.
        existing = find_digest(day)
        if existing is None:
            raise
        return existing
    return digest


def find_digest(day: dt.date) -> Digest | None:
    return Digest.objects.filter(date=day).first()


def digest_topics(digest: Digest, placements: list[Placement]) -> list[DigestTopic]:
    return [
        DigestTopic(
            digest=digest,
            topic=placement.topic,
            position=position,
            article_count=placement.topic.article_count,
            source_count=placement.topic.source_count,
            is_update=placement.is_update,
            new_article_count=placement.new_article_count,
            new_source_count=placement.new_source_count,
        )
        for position, placement in enumerate(placements, start=1)
    ]


def freeze_recipients(digest: Digest, topics: list[Topic]) -> int:
    """One Delivery per confirmed subscriber, with their segment. Those whose preferences
    pick nothing today are skipped, so the ledger still shows who would have got it and
    nobody gets an empty email."""
    rows = Subscriber.objects.confirmed().order_by("pk")
    reasons: dict[str, str] = {}
    deliveries = []
    for subscriber_id, categories, importance, count in rows.values_list(
        "pk", "categories", "min_importance", "max_topics"
    ):
        segment = make_segment(categories or (), importance, count)
        if segment.key not in reasons:
            reasons[segment.key] = skip_reason(segment, topics)
        reason = reasons[segment.key]
        status = DeliveryStatus.SKIPPED if reason else DeliveryStatus.PENDING
        deliveries.append(
            Delivery(
                digest=digest,
                subscriber_id=subscriber_id,
                segment=segment.key,
                status=status,
                error=reason,
            )
        )
    Delivery.objects.bulk_create(deliveries, batch_size=DELIVERY_BATCH, ignore_conflicts=True)
    return len(deliveries)


def skip_reason(segment: Segment, topics: list[Topic]) -> str:
    """Why readers in `segment` get no email today, or "" when they get one."""
    if not topics:
        return NOTHING_TODAY
    return "" if segment.select(topics) else NOTHING_MATCHED


def digest_subject(day: dt.date, topics: list[Topic]) -> str:
    """'Daybrief for Thu 26 Nov: <top headline> and 11 more'."""
    prefix = f"Daybrief for {dateformat.format(day, 'D j M')}"
    if not topics:
        return f"{prefix}: no new stories"
    headline = Truncator(" ".join(str(topics[0]).split())).chars(120)
    more = len(topics) - 1
    return f"{prefix}: {headline} and {more} more" if more else f"{prefix}: {headline}"
