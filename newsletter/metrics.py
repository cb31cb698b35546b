"""Prometheus metrics for the pipeline, and the /metrics endpoint.

Two kinds of figures:
- counters kept by the process that did the work (fetches by outcome, articles
  ingested, clustering duration, deliveries by outcome). Gunicorn and qcluster fork
  workers, so with PROMETHEUS_MULTIPROC_DIR set every process on a host writes its
  counters there and /metrics adds them up (`make serve` sets it);
- gauges read from the database and the broker at scrape time (topics today,
  deliveries by status, queue length). They are the same from any web server, so they
  also cover qcluster hosts that no Prometheus scrapes.
"""

import hmac
import os
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

FETCHES = Counter("daybrief_fetches", "Feed fetches by outcome.", ["outcome"])
ARTICLES_INGESTED = Counter("daybrief_articles_ingested", "New articles stored from feeds.")
CLUSTERING_SECONDS = Histogram(
    "daybrief_clustering_duration_seconds",
    "Time to cluster new articles into topics.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
DELIVERIES = Counter("daybrief_deliveries", "Digest deliveries by outcome.", ["outcome"])


class FetchOutcome(Protocol):
    """What count_fetch reads of a topics.fetching.SourceResult, which is not imported:
    topics.fetching imports this module."""

    @property
    def status(self) -> object: ...
    @property
    def new(self) -> int: ...


Outcome = TypeVar("Outcome", bound=FetchOutcome)


def count_fetch(result: Outcome) -> Outcome:
    """Count one topics.fetching.SourceResult and hand it back unchanged."""
    FETCHES.labels(str(result.status)).inc()
    if result.new:
        ARTICLES_INGESTED.inc(result.new)
    return result


def count_sending(result: Any) -> Any:
    """Count one newsletter.sending.SendResult and hand it back unchanged."""
    DELIVERIES.labels("sent").inc(result.sent)
    DELIVERIES.labels("failed").inc(result.failed)
    return result


class DatabaseCollector(Collector):
    """Figures the whole deployment shares, read when Prometheus scrapes."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield self.topics_today()
        yield self.deliveries_by_status()
        yield self.queue_length()

    def topics_today(self) -> GaugeMetricFamily:
        from topics.models import Topic

        count = Topic.objects.visible().for_day(timezone.localdate()).count()
        return GaugeMetricFamily("daybrief_topics", "Visible topics for today.", value=count)

    def deliveries_by_status(self) -> GaugeMetricFamily:
        from newsletter.models import Delivery, Digest

        gauge = GaugeMetricFamily(
            "daybrief_latest_digest_deliveries",
            "Deliveries of the latest digest by status.",
            labels=["status"],
        )
        latest = Digest.objects.order_by("-date").first()
        rows: Iterable[dict[str, Any]] = []
        if latest is not None:
            rows = Delivery.objects.filter(digest=latest).values("status").annotate(n=Count("pk"))
        for row in rows:
            gauge.add_metric([row["status"]], row["n"])
        return gauge

    def queue_length(self) -> GaugeMetricFamily:
        from django_q.brokers import get_broker

        return GaugeMetricFamily(
            "daybrief_task_queue_length",
            "Tasks waiting in the django-q2 broker.",
            value=get_broker().queue_size(),
        )


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        fresh = CollectorRegistry()
        multiprocess.MultiProcessCollector(fresh)  # type: ignore[no-untyped-call]
    else:
        fresh = CollectorRegistry()
        fresh.register(_ProcessCounters())
    fresh.register(DatabaseCollector())
    return fresh


class _ProcessCounters(Collector):
    """This process's own counters (without PROMETHEUS_MULTIPROC_DIR)."""

    def collect(self) -> Iterator[Any]:
        for collector in (FETCHES, ARTICLES_INGESTED, CLUSTERING_SECONDS, DELIVERIES):
            yield from collector.collect()


def allowed(request: HttpRequest) -> bool:
    """A bearer token when DAYBRIEF_METRICS_TOKEN is set; otherwise only with DEBUG on."""
    token = settings.DAYBRIEF_METRICS_TOKEN
    if not token:
        return settings.DEBUG
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        # 404, not 403: an unconfigured endpoint does not announce itself.
        raise Http404
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
