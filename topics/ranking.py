"""Order recent topics for the index and the digest.

A topic's score is its weight (importance, how many sources cover it and how much those
sources count, how fast articles are still arriving) discounted by how long ago its latest
article appeared. A topic that was already news on an earlier day and has no new source
today only repeats yesterday's story, so it sinks. Pinned topics go first and hidden ones are
left out by the queries that list topics (Topic.objects.ranked(), .visible()), not here.
"""

import dataclasses
import datetime as dt
import math
from collections import defaultdict

from django.utils import timezone

from topics.models import Article, Topic, day_bounds
from topics.pagecache import pages_changed

# Only topics with an article in this many hours are re-scored; older ones keep their score.
RECENT_HOURS = 72
# A topic's score halves for every this many hours since its latest article.
HALF_LIFE_HOURS = 18.0
# Articles published this recently count as the topic's velocity.
VELOCITY_HOURS = 6
# The share of its score a topic keeps when it only repeats an earlier day's story.
REPEAT_FACTOR = 0.35


@dataclasses.dataclass
class Coverage:
    """What ranking needs to know about a topic's articles."""

    authority: float = 0.0  # summed weight of its distinct sources
    velocity: int = 0  # articles published in the last VELOCITY_HOURS
    sources_before: set[int] = dataclasses.field(default_factory=set)  # seen before today
    sources_today: set[int] = dataclasses.field(default_factory=set)

    @property
    def repeats_earlier_news(self) -> bool:
        """Covered on an earlier day, and no source has joined today."""
        return bool(self.sources_before) and self.sources_today <= self.sources_before


def rank_topics(now: dt.datetime) -> int:
    """Score the recent topics; returns how many were scored."""
    topics = list(
        Topic.objects.filter(latest_at__gte=now - dt.timedelta(hours=RECENT_HOURS)).only(
            "pk", "importance", "latest_at", "score"
        )
    )
    coverage = _coverage([t.pk for t in topics], now)
    for topic in topics:
        assert topic.latest_at is not None  # the filter above
        hours = max((now - topic.latest_at).total_seconds() / 3600, 0.0)
        facts = coverage[topic.pk]
        topic.score = topic_score(
            topic.importance, facts.authority, hours, facts.velocity, facts.repeats_earlier_news
        )
    Topic.objects.bulk_update(topics, ["score"], batch_size=500)
    if topics:
        pages_changed()  # the order of the day's topics may have moved
    return len(topics)


def topic_score(
    importance: int, authority: float, hours_old: float, velocity: int, repeats: bool = False
) -> float:
    """`authority` is the summed weight of the distinct sources covering the topic."""
    weight = importance + math.log2(1 + authority) + 0.5 * math.log2(1 + velocity)
    score = weight * math.pow(0.5, hours_old / HALF_LIFE_HOURS)
    return round(score * (REPEAT_FACTOR if repeats else 1.0), 6)


def _coverage(topic_ids: list[int], now: dt.datetime) -> dict[int, Coverage]:
    """One pass over the topics' articles (one query, however many topics)."""
    today_start, _ = day_bounds(timezone.localdate(now))
    fast_since = now - dt.timedelta(hours=VELOCITY_HOURS)
    coverage: dict[int, Coverage] = defaultdict(Coverage)
    weights: dict[int, dict[int, float]] = defaultdict(dict)
    rows = Article.objects.filter(topic_id__in=topic_ids).values_list(
        "topic_id", "source_id", "source__weight", "first_seen_at", "published_at"
    )
    for topic_id, source_id, weight, first_seen_at, published_at in rows.iterator():
        facts = coverage[topic_id]
        weights[topic_id][source_id] = max(weight, 0.0)
        facts.velocity += published_at >= fast_since
        seen = facts.sources_before if first_seen_at < today_start else facts.sources_today
        seen.add(source_id)
    for topic_id, by_source in weights.items():
        coverage[topic_id].authority = sum(by_source.values())
    return coverage
