"""Order recent topics for the index and the digest.

A topic's score is its weight (importance, how many sources cover it and how much those
sources count, how fast articles are still arriving) discounted by how long ago its latest
article appeared. Pinned topics go first and hidden ones are left out by the queries that
list topics (Topic.objects.ranked(), .visible()), not here.
"""

import datetime as dt
import math
from collections import defaultdict

from django.db.models import Count, Q

from topics.models import Article, Topic

# Only topics with an article in this many hours are re-scored; older ones keep their score.
RECENT_HOURS = 72
# A topic's score halves for every this many hours since its latest article.
HALF_LIFE_HOURS = 18.0
# Articles published this recently count as the topic's velocity.
VELOCITY_HOURS = 6


def rank_topics(now: dt.datetime) -> int:
    """Score the recent topics; returns how many were scored."""
    topics = list(
        Topic.objects.filter(latest_at__gte=now - dt.timedelta(hours=RECENT_HOURS))
        .annotate(
            velocity=Count(
                "articles",
                filter=Q(articles__published_at__gte=now - dt.timedelta(hours=VELOCITY_HOURS)),
            )
        )
        .only("pk", "importance", "latest_at", "score")
    )
    authority = _source_authority([t.pk for t in topics])
    for topic in topics:
        hours = max((now - topic.latest_at).total_seconds() / 3600, 0.0)
        topic.score = topic_score(topic.importance, authority[topic.pk], hours, topic.velocity)
    Topic.objects.bulk_update(topics, ["score"], batch_size=500)
    return len(topics)


def topic_score(importance: int, authority: float, hours_old: float, velocity: int) -> float:
    """`authority` is the summed weight of the distinct sources covering the topic."""
    weight = importance + math.log2(1 + authority) + 0.5 * math.log2(1 + velocity)
    return round(weight * 0.5 ** (hours_old / HALF_LIFE_HOURS), 6)


def _source_authority(topic_ids: list[int]) -> dict[int, float]:
    """Summed weight of each topic's distinct sources: five ordinary sources count 5.0."""
    authority: dict[int, float] = defaultdict(float)
    rows = (
        Article.objects.filter(topic_id__in=topic_ids)
        .values_list("topic_id", "source_id", "source__weight")
        .order_by()
        .distinct()
    )
    for topic_id, _source_id, weight in rows:
        authority[topic_id] += max(weight, 0.0)
    return authority
