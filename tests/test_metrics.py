"""Prometheus metrics: the pipeline's counters and the token-protected /metrics page."""

from unittest import mock

from django.test import TestCase, override_settings
from django.utils import timezone
from prometheus_client import REGISTRY

from newsletter import digests
from newsletter import tasks as newsletter_tasks
from tests.factories import make_article, make_source, make_subscriber, make_topic
from tests.feedserver import FeedServer
from topics import fetching
from topics import tasks as topic_tasks

TOKEN = "s3cret-metrics-token"
RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
    "<link>https://wire.example.com/</link><description>x</description>"
    "<item><title>Port strike halts traffic</title><link>https://wire.example.com/a</link>"
    "<guid>urn:a</guid><description>Dock workers struck.</description></item>"
    "<item><title>Battery plant opens</title><link>https://wire.example.com/b</link>"
    "<guid>urn:b</guid><description>A plant opened.</description></item>"
    "</channel></rss>"
)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@override_settings(DAYBRIEF_METRICS_TOKEN=TOKEN)
class MetricsEndpointTests(TestCase):
    def scrape(self, token: str = TOKEN) -> str:
        response = self.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("text/plain"))
        return response.content.decode()

    def test_metrics_needs_the_token(self) -> None:
        self.assertEqual(self.client.get("/metrics").status_code, 404)
        wrong = self.client.get("/metrics", headers={"Authorization": "Bearer guess"})
        self.assertEqual(wrong.status_code, 404)

    @override_settings(DAYBRIEF_METRICS_TOKEN="", DEBUG=False)
    def test_metrics_without_a_token_is_closed_in_production(self) -> None:
        self.assertEqual(self.client.get("/metrics").status_code, 404)

    @override_settings(DAYBRIEF_METRICS_TOKEN="", DEBUG=True)
    def test_metrics_without_a_token_is_open_on_a_laptop(self) -> None:
        self.assertEqual(self.client.get("/metrics").status_code, 200)

    def test_metrics_counts_todays_visible_topics(self) -> None:
        source = make_source()
        now = timezone.now()
        for _ in range(3):
            make_topic([make_article(source)], earliest_at=now, latest_at=now, article_count=1)
        self.assertIn("daybrief_topics 3.0", self.scrape())

    def test_metrics_shows_the_latest_digests_deliveries_by_status(self) -> None:
        make_topic([make_article()], latest_at=timezone.now(), article_count=1)
        make_subscriber("a@example.com")
        make_subscriber("b@example.com")
        digests.build_digest(timezone.localdate())
        text = self.scrape()
        self.assertIn('daybrief_latest_digest_deliveries{status="pending"} 2.0', text)

    def test_metrics_reports_the_broker_queue_length(self) -> None:
        broker = mock.Mock(**{"queue_size.return_value": 7})
        with mock.patch("django_q.brokers.get_broker", return_value=broker):
            self.assertIn("daybrief_task_queue_length 7.0", self.scrape())

    def test_metrics_lists_the_pipeline_counters(self) -> None:
        text = self.scrape()
        for name in (
            "daybrief_fetches_total",
            "daybrief_articles_ingested_total",
            "daybrief_clustering_duration_seconds_count",
            "daybrief_deliveries_total",
        ):
            self.assertIn(f"# TYPE {name.rsplit('_', 1)[0]}", text.replace("_total", "_x"))


class PipelineCounterTests(TestCase):
    def test_a_fetch_counts_its_outcome_and_new_articles(self) -> None:
        ok, failed = (
            sample("daybrief_fetches_total", outcome="ok"),
            sample("daybrief_fetches_total", outcome="failed"),
        )
        ingested = sample("daybrief_articles_ingested_total")
        with FeedServer() as server:
            server.route("/feed.xml", RSS, headers={"Content-Type": "application/rss+xml"})
            server.route("/gone.xml", "nope", status=500)
            fetching.fetch_source(make_source(feed_url=server.url("/feed.xml")).pk)
            fetching.fetch_source(make_source(feed_url=server.url("/gone.xml")).pk)
        self.assertEqual(sample("daybrief_fetches_total", outcome="ok"), ok + 1)
        self.assertEqual(sample("daybrief_fetches_total", outcome="failed"), failed + 1)
        self.assertEqual(sample("daybrief_articles_ingested_total"), ingested + 2)

    def test_clustering_is_timed(self) -> None:
        before = sample("daybrief_clustering_duration_seconds_count")
        topic_tasks.refresh_topics()
        self.assertEqual(sample("daybrief_clustering_duration_seconds_count"), before + 1)

    @override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    def test_sending_a_digest_counts_deliveries_by_outcome(self) -> None:
        make_topic([make_article()], latest_at=timezone.now(), article_count=1, headline="A")
        make_subscriber("a@example.com")
        make_subscriber("b@example.com")
        before = sample("daybrief_deliveries_total", outcome="sent")
        newsletter_tasks.daily_digest()
        self.assertEqual(sample("daybrief_deliveries_total", outcome="sent"), before + 2)
