"""Small builders for tests: each returns a saved row with sensible defaults."""

import datetime as dt
import hashlib
import itertools

from django.utils import timezone

from newsletter.models import Subscriber, SubscriberStatus
from topics.models import Article, Relation, Source, Topic

_seq = itertools.count(1)


def make_source(**fields: object) -> Source:
    n = next(_seq)
    defaults: dict[str, object] = {
        "name": f"Source {n}",
        "feed_url": f"https://feeds.example.com/{n}.xml",
        "homepage_url": f"https://example.com/{n}/",
        "relation": Relation.THIRD_PARTY,
    }
    defaults.update(fields)
    return Source.objects.create(**defaults)


def make_article(source: Source | None = None, **fields: object) -> Article:
    n = next(_seq)
    source = source or make_source()
    title = str(fields.get("title", f"Article {n}"))
    now = timezone.now()
    defaults: dict[str, object] = {
        "identity": f"urn:test:{n}",
        "url": f"https://example.com/articles/{n}",
        "title": title,
        "text": title,
        "published_at": now - dt.timedelta(hours=1),
        "first_seen_at": now,
        "content_hash": hashlib.sha256(title.encode()).hexdigest(),
    }
    defaults.update(fields)
    return Article.objects.create(source=source, **defaults)


def make_topic(articles: list[Article] = (), **fields: object) -> Topic:  # type: ignore[assignment]
    topic = Topic.objects.create(**fields)
    for article in articles:
        article.topic = topic
        article.save(update_fields=["topic"])
    return topic


def make_subscriber(email: str | None = None, **fields: object) -> Subscriber:
    n = next(_seq)
    defaults: dict[str, object] = {"status": SubscriberStatus.CONFIRMED}
    defaults.update(fields)
    return Subscriber.objects.create(email=email or f"reader{n}@example.com", **defaults)
