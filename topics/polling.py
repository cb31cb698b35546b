"""When to fetch a feed next: as often as it publishes, as rarely as its server asks.

The interval follows the feed's publishing frequency (after Miniflux's
entry_frequency: the average gap between the entries of the last week), clamped
between 5 minutes and 24 hours. A feed's <ttl>, Cache-Control max-age and Expires can
only lengthen it, never beyond 24 hours, and a little jitter keeps feeds of one host
from being fetched in lockstep. See shared/reference/feed-ingestion.md §1.2 and §5.8.
"""

import datetime as dt
import email.utils
import random
import re

import httpx
from django.db.models import Count, Min

from topics.models import Article

MIN_INTERVAL = dt.timedelta(minutes=5)
MAX_INTERVAL = dt.timedelta(hours=24)
WEEK = dt.timedelta(days=7)
# Servers with broken validators answer 304 forever; at least this often we ask without.
UNCONDITIONAL_EVERY = dt.timedelta(hours=12)
JITTER = 0.1  # ±10 %
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def publish_interval(entries: int, span: dt.timedelta) -> dt.timedelta:
    """The average time between the `entries` published within the last `span` (at
    most a week, up to now); a feed with nothing in the last week gets the maximum.

    Measuring from the oldest entry to now, rather than over a whole week, gives a busy
    feed that only shows its last day its real pace, and stretches a feed that went
    quiet after a burst.
    """
    if entries <= 0:
        return MAX_INTERVAL
    return clamp(max(span, dt.timedelta(0)) / entries)


def measure_publish_interval(source_id: int, now: dt.datetime) -> dt.timedelta:
    """The publishing interval of a source from its articles of the last week."""
    recent = Article.objects.filter(
        source_id=source_id, published_at__gt=now - WEEK, published_at__lte=now
    ).aggregate(entries=Count("pk"), oldest=Min("published_at"))
    if not recent["entries"]:
        return MAX_INTERVAL
    return publish_interval(recent["entries"], now - recent["oldest"])


def server_floor(
    headers: httpx.Headers, now: dt.datetime, feed_ttl: dt.timedelta | None = None
) -> dt.timedelta:
    """The longest wait the server and the feed ask for: <ttl>, Cache-Control max-age,
    Expires (zero when they ask for nothing)."""
    floors = [feed_ttl or dt.timedelta(0), _max_age(headers), _expires_in(headers, now)]
    return max(floors)


def next_interval(normal: dt.timedelta, floor: dt.timedelta, jitter_key: str = "") -> dt.timedelta:
    """The wait before the next fetch: the normal interval, lengthened to the server's
    floor, jittered, and kept within [MIN_INTERVAL, MAX_INTERVAL].

    The jitter is drawn from `jitter_key` (e.g. the source and the time), so the same
    inputs give the same answer.
    """
    interval = max(normal, floor)
    factor = 1 + random.Random(jitter_key).uniform(-JITTER, JITTER)
    return clamp(interval * factor)


def needs_unconditional_fetch(last_unconditional_at: dt.datetime | None, now: dt.datetime) -> bool:
    return last_unconditional_at is None or now - last_unconditional_at >= UNCONDITIONAL_EVERY


def clamp(interval: dt.timedelta) -> dt.timedelta:
    return min(max(interval, MIN_INTERVAL), MAX_INTERVAL)


def _max_age(headers: httpx.Headers) -> dt.timedelta:
    cache_control = headers.get("cache-control", "")
    if "no-cache" in cache_control.lower() or "no-store" in cache_control.lower():
        return dt.timedelta(0)
    match = _MAX_AGE.search(cache_control)
    if not match:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=int(match.group(1)[:9])), MAX_INTERVAL)


def _expires_in(headers: httpx.Headers, now: dt.datetime) -> dt.timedelta:
    raw: str = headers.get("expires", "").strip()
    if not raw or "max-age" in headers.get("cache-control", "").lower():
        return dt.timedelta(0)  # max-age wins over Expires (RFC 9111 §5.3)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return dt.timedelta(0)  # "0" and other invalid dates mean "already expired"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(max(when - now, dt.timedelta(0)), MAX_INTERVAL)
