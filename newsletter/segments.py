"""Preference segments: readers whose preferences pick the same cards share one rendered body.

A segment is the canonical form of a reader's preferences (categories, minimum importance,
number of cards), written as a short key such as "all/1/10" or "business+science/3/5" and
frozen on each Delivery when the digest is built. The email is compiled once per segment;
only the reader's own links are put in per recipient.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from django.conf import settings

from newsletter.models import Subscriber

# No email carries more cards than this, whatever the settings or preferences say: about
# 3 KB of HTML per card keeps the worst day well under Gmail's clipping size (emails.py
# still measures the result and drops cards if it ever is not).
EMAIL_CARD_CAP = 20
ALL = "all"


class Rankable(Protocol):
    # Read-only: cards expose these as properties of their topic.
    @property
    def category(self) -> str: ...
    @property
    def importance(self) -> int: ...


T = TypeVar("T", bound=Rankable)


@dataclass(frozen=True)
class Segment:
    categories: tuple[str, ...] = ()
    min_importance: int = 1
    max_topics: int = 10

    @property
    def key(self) -> str:
        categories = "+".join(self.categories) or ALL
        return f"{categories}/{self.min_importance}/{self.max_topics}"

    @classmethod
    def from_key(cls, key: str) -> "Segment":
        """The segment a key names; ValueError for anything `key` never produced."""
        categories, importance, count = key.split("/")
        chosen = () if categories == ALL else tuple(categories.split("+"))
        return make_segment(chosen, int(importance), int(count))

    def picks(self, topic: Rankable) -> bool:
        if self.categories and topic.category not in self.categories:
            return False
        return topic.importance >= self.min_importance

    def select(self, ranked: Iterable[T]) -> list[T]:
        """The first `max_topics` of `ranked` that this segment wants, in order."""
        chosen: list[T] = []
        for topic in ranked:
            if len(chosen) == self.max_topics:
                break
            if self.picks(topic):
                chosen.append(topic)
        return chosen


def make_segment(categories: Sequence[str], min_importance: int, max_topics: int) -> Segment:
    """The canonical segment: sorted distinct categories, importance in 1-5, and a card
    count within 1 and the site's ceiling, so equivalent preferences share one key."""
    ceiling = min(settings.DAYBRIEF_DIGEST_MAX_TOPICS, EMAIL_CARD_CAP)
    return Segment(
        categories=tuple(sorted({str(c).strip().lower() for c in categories if str(c).strip()})),
        min_importance=min(max(int(min_importance), 1), 5),
        max_topics=min(max(int(max_topics), 1), max(ceiling, 1)),
    )


def segment_for(subscriber: Subscriber) -> Segment:
    return make_segment(
        subscriber.categories or (), subscriber.min_importance, subscriber.max_topics
    )


def default_segment() -> Segment:
    """What a reader who never touched their preferences gets (and the archive's email)."""
    field = Subscriber._meta.get_field("max_topics")
    return make_segment((), 1, int(field.get_default()))
