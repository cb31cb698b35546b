"""Continuity between digests: a story already sent comes back only when it has grown.

Each DigestTopic keeps the topic's article and source counts from when its digest was
built. Building the next digest compares a topic with its latest earlier appearance: if it
gained articles or sources it comes back marked "Updated" (with what is new), otherwise it
is left out, because readers already have it.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from newsletter.models import DigestTopic
from topics.models import Topic


@dataclass(frozen=True)
class Placement:
    """A topic as it goes into a digest."""

    topic: Topic
    is_update: bool = False
    new_article_count: int = 0
    new_source_count: int = 0


def place_topics(day: dt.date, ranked: Iterable[Topic]) -> list[Placement]:
    """`ranked` in order, minus stories sent before `day` that have not grown since;
    those that have grown are marked as updates."""
    ranked = list(ranked)
    sent = last_sent_sizes(day, [topic.pk for topic in ranked])
    placements = []
    for topic in ranked:
        if topic.pk not in sent:
            placements.append(Placement(topic))
            continue
        articles, sources = sent[topic.pk]
        new_articles = max(topic.article_count - articles, 0)
        new_sources = max(topic.source_count - sources, 0)
        if new_articles or new_sources:
            placements.append(Placement(topic, True, new_articles, new_sources))
    return placements


def last_sent_sizes(day: dt.date, topic_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(article_count, source_count) of each topic at its latest digest before `day`."""
    rows = (
        DigestTopic.objects.filter(topic_id__in=topic_ids, digest__date__lt=day)
        .order_by("topic_id", "-digest__date")
        .values_list("topic_id", "article_count", "source_count")
    )
    sizes: dict[int, tuple[int, int]] = {}
    for topic_id, articles, sources in rows:
        sizes.setdefault(topic_id, (articles, sources))
    return sizes
