"""Loading the demo newsroom: its sources (pointing at the feeds this site serves) and readers.

Articles are never inserted here: they arrive through the real fetch path, from the feeds
served under /demo/feeds/. A demo source is recognised by its feed URL's path, so the demo
survives a change of host or port (load_demo then moves the URLs along).
"""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from newsletter.models import Subscriber, SubscriberStatus
from topics.demo.content import SOURCES, SUBSCRIBERS, DemoSource, DemoSubscriber
from topics.models import Source, SourceQuerySet


@dataclass
class LoadResult:
    sources_created: int = 0
    sources_updated: int = 0
    subscribers_created: int = 0


def demo_feed_path(slug: str) -> str:
    return f"/demo/feeds/{slug}.xml"


def demo_homepage_path(slug: str) -> str:
    return f"/demo/{slug}/"


def demo_sources() -> SourceQuerySet:
    """The demo's Source rows, whatever host their feed URLs point at."""
    query = Q(pk__in=[])
    for demo in SOURCES:
        query |= Q(feed_url__endswith=demo_feed_path(demo.slug))
    return Source.objects.filter(query)


def demo_anchor() -> dt.datetime:
    """The moment the demo was loaded; every demo article is dated relative to it.

    Before the demo is loaded, the start of today stands in, so feeds stay the same all day.
    """
    earliest = demo_sources().aggregate(loaded_at=Min("created_at"))
    loaded_at: dt.datetime | None = earliest["loaded_at"]
    if loaded_at is not None:
        return loaded_at
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


@transaction.atomic
def load_demo(site_url: str) -> LoadResult:
    """Create the demo sources and subscribers that are missing; point sources at `site_url`.

    Safe to repeat: existing rows are kept (an editor's changes to weight or is_active
    included); only the URLs move when the site's address changed.
    """
    result = LoadResult()
    existing = {_slug_of(source): source for source in demo_sources()}
    for demo in SOURCES:
        source = existing.get(demo.slug)
        if source is None:
            _create_source(demo, site_url)
            result.sources_created += 1
        elif _move_source(source, demo.slug, site_url):
            result.sources_updated += 1
    for reader in SUBSCRIBERS:
        result.subscribers_created += int(_add_subscriber(reader))
    return result


@transaction.atomic
def update_demo_urls(site_url: str) -> int:
    """Point the demo sources that exist at `site_url`; returns how many moved."""
    moved = 0
    for source in demo_sources():
        moved += int(_move_source(source, _slug_of(source), site_url))
    return moved


def _slug_of(source: Source) -> str:
    return source.feed_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".xml")


def _urls(slug: str, site_url: str) -> dict[str, str]:
    base = site_url.rstrip("/")
    return {
        "feed_url": base + demo_feed_path(slug),
        "homepage_url": base + demo_homepage_path(slug),
    }


def _create_source(demo: DemoSource, site_url: str) -> Source:
    return Source.objects.create(
        name=demo.name,
        relation=demo.relation,
        default_kind=demo.default_kind,
        weight=demo.weight,
        category=demo.category,
        **_urls(demo.slug, site_url),
    )


def _move_source(source: Source, slug: str, site_url: str) -> bool:
    urls = _urls(slug, site_url)
    changed = [field for field, value in urls.items() if getattr(source, field) != value]
    for field in changed:
        setattr(source, field, urls[field])
    if changed:
        source.save(update_fields=changed)
    return bool(changed)


def _add_subscriber(reader: DemoSubscriber) -> bool:
    _, created = Subscriber.objects.get_or_create(
        email=reader.email,
        defaults={
            "name": reader.name,
            "status": SubscriberStatus.CONFIRMED,
            "confirmed_at": timezone.now(),
            "categories": list(reader.categories),
            "min_importance": reader.min_importance,
            "max_topics": reader.max_topics,
        },
    )
    return created
