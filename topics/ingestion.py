"""Storing a fetched feed's entries as Articles: new ones created, changed ones updated."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from topics.extraction import add_full_text
from topics.feed_parsing import EntryRecord, NotAFeed, parse_document
from topics.models import Article, Source
from topics.pagecache import pages_changed

__all__ = ["IngestResult", "NotAFeed", "ingest_feed"]

# What an entry's update may change; its identity, kind and dates stay as first seen.
UPDATED_FIELDS = [
    "url",
    "title",
    "author",
    "summary_html",
    "content_html",
    "text",
    "content_hash",
    "extracted_over",
    "updated_at",
]


@dataclass(frozen=True)
class IngestResult:
    new: int
    updated: int
    ttl: dt.timedelta | None = None  # the feed's <ttl>


def ingest_feed(source: Source, body: bytes, content_type: str, url: str) -> IngestResult:
    """Parse a feed document and store its entries for `source`.

    An entry whose identity is new becomes an Article; a known identity whose content
    hash changed is updated in place (first_seen_at untouched, so it never re-enters a
    digest as news); anything else is left alone. Raises NotAFeed (nothing stored) when
    the document is not a feed. `url` is the final URL, used to resolve relative links.
    """
    now = timezone.now()
    parsed = parse_document(body, content_type, url, now)
    records = parsed.records
    known = _known_hashes(source, [r.identity for r in records])
    new = [_new_article(source, r, now) for r in records if r.identity not in known]
    changed = [
        _changed_article(known[r.identity][0], r, now)
        for r in records
        if r.identity in known and known[r.identity][1] != r.content_hash
    ]
    if source.fetch_full_text:
        # Outside the transaction: this fetches web pages.
        add_full_text(new, changed)
    with transaction.atomic():
        # ignore_conflicts: a second fetch of the same source running at the same time
        # (a redelivered task) must not fail; the unique constraint keeps one row.
        Article.objects.bulk_create(new, ignore_conflicts=True)
        Article.objects.bulk_update(changed, UPDATED_FIELDS)
        if changed:
            pages_changed()  # a topic page shows its articles' titles and summaries
    return IngestResult(new=len(new), updated=len(changed), ttl=parsed.ttl)


def _known_hashes(source: Source, identities: list[str]) -> dict[str, tuple[int, str]]:
    rows = Article.objects.filter(source=source, identity__in=identities).values_list(
        "identity", "pk", "content_hash"
    )
    return {identity: (pk, content_hash) for identity, pk, content_hash in rows}


def _new_article(source: Source, record: EntryRecord, now: dt.datetime) -> Article:
    return Article(
        source=source,
        identity=record.identity,
        kind=source.default_kind,
        published_at=record.published_at,
        first_seen_at=now,
        updated_at=now,
        **record.article_fields(),
    )


def _changed_article(pk: int, record: EntryRecord, now: dt.datetime) -> Article:
    return Article(pk=pk, updated_at=now, **record.article_fields())
