"""Fetching sources: one at a time, or a round of due sources in parallel.

Each fetch ends by recording the source's health (status, error in plain words, next
fetch time with backoff), so a broken feed is visible in the admin and retried later
instead of silently dying. Downloads of a round run in a small thread pool; parsing
and every database write happen in the calling thread, so no connection is shared
across threads and the whole round works inside a test transaction.
"""

import datetime as dt
import enum
import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from newsletter.metrics import count_fetch
from topics.feed_http import DEFAULT_LIMITS, Download, FetchError, Limits, download, retry_after
from topics.feed_parsing import looks_like_bot_challenge
from topics.ingestion import NotAFeed, ingest_feed
from topics.models import Source
from topics.polling import (
    measure_publish_interval,
    needs_unconditional_fetch,
    next_interval,
    server_floor,
)

logger = logging.getLogger(__name__)

ROUND_WORKERS = 4
# A round must end well inside the task timeout (600 s): a fetch takes at most about
# 30 s (total + one stalled read), so 60 sources over 4 threads is at worst ~450 s.
# Sources left over are still due and go first in the next round.
ROUND_BATCH = 60
# Transient failures are common; the first few keep the normal interval (reference §1.2).
ERRORS_BEFORE_BACKOFF = 3
MAX_INTERVAL = dt.timedelta(hours=24)
# Politeness towards one host (reference §1.2, miniflux#3289): at most this many downloads
# at once, and a 429/503 holds back every source on it for Retry-After, else this long.
PER_HOST_DOWNLOADS = 2
HOST_SLOWDOWN = dt.timedelta(hours=1)
# A 301/308 is adopted as the new feed URL only after this many fetches in a row saw it,
# so one misconfigured answer does not move a feed for good.
REDIRECTS_BEFORE_MOVE = 3


class Status(enum.StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not modified"
    FAILED = "failed"
    GONE = "gone"
    # Not fetched: its host asked us to slow down earlier in the same round.
    DEFERRED = "deferred"


@dataclass(frozen=True)
class SourceResult:
    source_id: int
    name: str
    status: Status
    http_status: int | None = None
    new: int = 0
    updated: int = 0
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status in (Status.FAILED, Status.GONE)


@dataclass(frozen=True)
class RoundResult:
    fetched: int  # sources fetched without error, unchanged ones included
    new_articles: int
    failed: int
    results: tuple[SourceResult, ...] = ()


def fetch_source(source_id: int, limits: Limits = DEFAULT_LIMITS) -> SourceResult:
    """Fetch one source now (due or not), store its new entries, record its health."""
    source = Source.objects.get(pk=source_id)
    return count_fetch(_record_safely(source, _try_download(_Request.of(source), limits)))


def store_download(source_id: int, outcome: Download) -> SourceResult:
    """Record a download made elsewhere (feed discovery) as the source's fetch, so adding
    a source does not ask the publisher for the same feed twice (miniflux#2128)."""
    source = Source.objects.get(pk=source_id)
    return count_fetch(_record_safely(source, outcome))


def fetch_due_sources(now: dt.datetime, limits: Limits = DEFAULT_LIMITS) -> RoundResult:
    """Fetch the active sources whose next fetch time has come, longest-waiting first,
    at most ROUND_BATCH of them."""
    due = Source.objects.due(now).order_by(F("next_fetch_at").asc(nulls_first=True), "pk")
    return fetch_sources(list(due.values_list("pk", flat=True)[:ROUND_BATCH]), limits)


def fetch_sources(
    source_ids: Iterable[int], limits: Limits = DEFAULT_LIMITS, workers: int = ROUND_WORKERS
) -> RoundResult:
    """Fetch the given sources, downloading up to `workers` at once.

    A failure of any kind is recorded on its own source and counted; it never stops
    the round.
    """
    sources = list(Source.objects.filter(pk__in=list(source_ids)))
    results = [count_fetch(_record_safely(s, d)) for s, d in _downloads(sources, limits, workers)]
    results.sort(key=lambda r: (r.name.lower(), r.source_id))
    return RoundResult(
        fetched=sum(r.status in (Status.OK, Status.NOT_MODIFIED) for r in results),
        new_articles=sum(r.new for r in results),
        failed=sum(r.failed for r in results),
        results=tuple(results),
    )


def backoff_interval(consecutive_errors: int) -> dt.timedelta:
    """When to try again after this many failures in a row: the normal interval at
    first, then doubling, never more than a day."""
    base = dt.timedelta(minutes=settings.DAYBRIEF_FETCH_MINUTES)
    if consecutive_errors <= ERRORS_BEFORE_BACKOFF:
        return base
    doublings = min(consecutive_errors - ERRORS_BEFORE_BACKOFF, 16)  # 2**16 > a day of minutes
    factor: int = 2**doublings  # int ** int is typed Any: a negative power gives a float
    return min(base * factor, MAX_INTERVAL)


@dataclass(frozen=True)
class _Request:
    """What a download thread needs: plain values, never a model instance."""

    url: str
    etag: str
    last_modified: str

    @classmethod
    def of(cls, source: Source) -> "_Request":
        if needs_unconditional_fetch(source.last_unconditional_at, timezone.now()):
            return cls(source.feed_url, "", "")
        return cls(source.feed_url, source.etag, source.last_modified)


class _Deferred:
    """Stands for a download not attempted because its host asked us to slow down."""


def host_of(url: str) -> str:
    """The host:port politeness rules apply to."""
    return urlsplit(url).netloc.lower()


def _downloads(
    sources: list[Source], limits: Limits, workers: int
) -> Iterator[tuple[Source, Download | FetchError | _Deferred]]:
    """Each source with its download, as soon as that is ready.

    Threads only download; they never touch the database. At most 2 × `workers`
    downloads are started and not yet handed over, so a round holds a bounded number
    of bodies (each up to `limits.max_bytes`) however many sources it has. At most
    PER_HOST_DOWNLOADS run against one host at a time, and once a host answers 429 or
    503 its sources still waiting are handed over as deferred instead of downloaded.
    """
    waiting = list(sources)
    busy: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: dict[Future[Download | FetchError], Source] = {}

        def start_ready() -> None:
            while len(pending) < 2 * workers:
                ready = next(
                    (s for s in waiting if busy[host_of(s.feed_url)] < PER_HOST_DOWNLOADS), None
                )
                if ready is None:
                    return
                waiting.remove(ready)
                busy[host_of(ready.feed_url)] += 1
                pending[pool.submit(_try_download, _Request.of(ready), limits)] = ready

        start_ready()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                source = pending.pop(future)
                host = host_of(source.feed_url)
                busy[host] -= 1
                outcome = future.result()
                yield source, outcome
                if isinstance(outcome, Download) and outcome.status in (429, 503):
                    for held in [s for s in waiting if host_of(s.feed_url) == host]:
                        waiting.remove(held)
                        yield held, _Deferred()
            start_ready()


def _try_download(request: _Request, limits: Limits) -> Download | FetchError:
    """The download, or what went wrong; never raises, so one source cannot end a round."""
    try:
        return download(
            request.url, etag=request.etag, last_modified=request.last_modified, limits=limits
        )
    except FetchError as exc:
        return exc
    except Exception as exc:
        logger.exception("Downloading %s failed unexpectedly", request.url)
        return FetchError(f"unexpected error: {type(exc).__name__}: {exc}")


def _record_safely(source: Source, outcome: Download | FetchError | _Deferred) -> SourceResult:
    try:
        return _record(source, outcome)
    except Exception as exc:
        # A bug or a database error for one source must not end the round.
        logger.exception("Fetching source %s failed unexpectedly", source.pk)
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        try:
            return _fail(source, message, None, timezone.now())
        except Exception:
            logger.exception("Could not record the failure of source %s", source.pk)
            return SourceResult(source.pk, source.name, Status.FAILED, error=message)


def _record(source: Source, outcome: Download | FetchError | _Deferred) -> SourceResult:
    now = timezone.now()
    if isinstance(outcome, _Deferred):
        # Its next fetch time was already pushed back with the rest of the host's.
        error = f"postponed: {host_of(source.feed_url)} asked us to slow down"
        return SourceResult(source.pk, source.name, Status.DEFERRED, error=error)
    if isinstance(outcome, FetchError):
        return _fail(source, str(outcome), None, now)
    status = outcome.status
    if status == 304:
        return _not_modified(source, outcome, now)
    if status == 410:
        return _gone(source, now)
    if status in (429, 503):
        delay = min(retry_after(outcome.headers, now) or HOST_SLOWDOWN, MAX_INTERVAL)
        _slow_down_host(source, now + delay)
        return _fail(source, _http_error(outcome), status, now, at_least=delay)
    if not 200 <= status < 300:
        return _fail(source, _http_error(outcome), status, now)
    # Sent without validators (see _Request.of): a same-ETag answer proves nothing then.
    unconditional = needs_unconditional_fetch(source.last_unconditional_at, now)
    checked = {"last_unconditional_at": now} if unconditional else {}
    etag = outcome.headers.get("etag", "")
    if etag and etag == source.etag and not unconditional:
        return _not_modified(source, outcome, now)
    body_hash = hashlib.sha256(outcome.body).hexdigest()
    if body_hash == source.body_hash:  # servers without validators, or ignoring them
        return _not_modified(source, outcome, now, **checked)
    try:
        ingested = ingest_feed(
            source, outcome.body, outcome.headers.get("content-type", ""), outcome.url
        )
    except NotAFeed as exc:
        return _fail(source, str(exc), status, now)
    normal = measure_publish_interval(source.pk, now)
    floor = server_floor(outcome.headers, now, ingested.ttl)
    _save_health(
        source,
        now,
        status,
        _validators(outcome),
        **_redirect_fields(source, outcome),
        **checked,
        body_hash=body_hash,
        consecutive_errors=0,
        last_error="",
        publish_interval=normal,
        feed_ttl=ingested.ttl,
        next_fetch_at=now + next_interval(normal, floor, f"{source.pk}:{now.isoformat()}"),
    )
    return SourceResult(
        source.pk, source.name, Status.OK, status, new=ingested.new, updated=ingested.updated
    )


def _not_modified(
    source: Source, outcome: Download, now: dt.datetime, **fields: Any
) -> SourceResult:
    normal = source.publish_interval or measure_publish_interval(source.pk, now)
    floor = server_floor(outcome.headers, now, source.feed_ttl)
    # A 304 may carry fresher validators (RFC 9111 §4.3.4); keep them when it does.
    _save_health(
        source,
        now,
        outcome.status,
        _validators(outcome, keep_from=source),
        **_redirect_fields(source, outcome),
        **fields,
        consecutive_errors=0,
        last_error="",
        publish_interval=normal,
        next_fetch_at=now + next_interval(normal, floor, f"{source.pk}:{now.isoformat()}"),
    )
    return SourceResult(source.pk, source.name, Status.NOT_MODIFIED, outcome.status)


def _gone(source: Source, now: dt.datetime) -> SourceResult:
    message = "HTTP 410 Gone: the publisher removed this feed, so the source was deactivated"
    logger.warning("Source %s (%s): %s", source.pk, source.feed_url, message)
    _save_health(
        source,
        now,
        410,
        {},
        is_active=False,
        consecutive_errors=source.consecutive_errors + 1,
        last_error=message,
        next_fetch_at=None,
    )
    return SourceResult(source.pk, source.name, Status.GONE, 410, error=message)


def _fail(
    source: Source,
    message: str,
    http_status: int | None,
    now: dt.datetime,
    at_least: dt.timedelta | None = None,
) -> SourceResult:
    logger.warning("Source %s (%s): %s", source.pk, source.feed_url, message)
    errors = source.consecutive_errors + 1
    delay = min(max(backoff_interval(errors), at_least or dt.timedelta(0)), MAX_INTERVAL)
    _save_health(
        source,
        now,
        http_status,
        {},
        consecutive_errors=errors,
        last_error=message,
        next_fetch_at=now + delay,
    )
    return SourceResult(source.pk, source.name, Status.FAILED, http_status, error=message)


def _save_health(
    source: Source,
    now: dt.datetime,
    http_status: int | None,
    validators: dict[str, str],
    **fields: Any,
) -> None:
    # A targeted update: an editor saving the source meanwhile keeps their changes.
    fields.update(validators, last_fetched_at=now, last_status=http_status)
    Source.objects.filter(pk=source.pk).update(**fields)
    for name, value in fields.items():
        setattr(source, name, value)


def _redirect_fields(source: Source, outcome: Download) -> dict[str, Any]:
    """Health fields for the redirects of a successful fetch.

    A permanent redirect to the same place on REDIRECTS_BEFORE_MOVE fetches in a row
    becomes the feed URL, the old one kept as an alias; anything else resets the count
    (a 302/307 never moves a feed: the publisher says the move is temporary).
    """
    target = outcome.permanent_target
    if not target or target == source.feed_url:
        return {"redirect_target": "", "redirect_count": 0} if source.redirect_count else {}
    count = source.redirect_count + 1 if target == source.redirect_target else 1
    taken = Source.objects.filter(feed_url=target).exclude(pk=source.pk).exists()
    if count < REDIRECTS_BEFORE_MOVE or taken:
        if taken:
            logger.warning("Source %s redirects to %s, another source's feed", source.pk, target)
        return {"redirect_target": target, "redirect_count": count}
    logger.info("Source %s moved permanently: %s -> %s", source.pk, source.feed_url, target)
    aliases = [url for url in source.feed_url_aliases if url != target]
    return {
        "feed_url": target,
        "feed_url_aliases": [*aliases, source.feed_url],
        "redirect_target": "",
        "redirect_count": 0,
    }


def _slow_down_host(source: Source, until: dt.datetime) -> None:
    """Hold back every other active source on this source's host until `until`."""
    host = host_of(source.feed_url)
    same_host = [
        pk
        for pk, url in Source.objects.filter(is_active=True, feed_url__icontains=host)
        .exclude(pk=source.pk)
        .values_list("pk", "feed_url")
        if host_of(url) == host
    ]
    Source.objects.filter(pk__in=same_host).filter(
        Q(next_fetch_at__isnull=True) | Q(next_fetch_at__lt=until)
    ).update(next_fetch_at=until)


def _validators(outcome: Download, keep_from: Source | None = None) -> dict[str, str]:
    etag = outcome.headers.get("etag", "")[:500]
    last_modified = outcome.headers.get("last-modified", "")[:100]
    if keep_from is not None:
        etag = etag or keep_from.etag
        last_modified = last_modified or keep_from.last_modified
    return {"etag": etag, "last_modified": last_modified}


_HTTP_ERRORS = {
    401: "access denied",
    403: "access denied",
    404: "not found",
    429: "rate limited by the server",
}


def _http_error(outcome: Download) -> str:
    status = outcome.status
    challenged = outcome.headers.get("cf-mitigated") == "challenge"
    if status in (403, 429, 503) and (challenged or looks_like_bot_challenge(outcome.body)):
        return f"blocked by bot protection (HTTP {status})"
    words = _HTTP_ERRORS.get(status) or ("server error" if status >= 500 else "")
    return f"HTTP {status} ({words})" if words else f"HTTP {status}"
