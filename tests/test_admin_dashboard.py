"""The dashboard on the admin index: pipeline health, today's topics, the next digest."""

import datetime as dt

import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_q.models import Failure, Success

from newsletter import schedules
from newsletter.dashboard import build_dashboard
from newsletter.models import Delivery, DeliveryStatus, Digest
from tests.factories import make_article, make_source, make_subscriber, make_topic

NOW = dt.datetime(2026, 4, 21, 7, 30, tzinfo=dt.UTC)
INDEX = reverse("admin:index")


@time_machine.travel(NOW, tick=False)
class DashboardTests(TestCase):
    def setUp(self) -> None:
        self.editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
        self.client.force_login(self.editor)

    def topic(self, headline: str, **fields: object) -> object:
        article = make_article(title=headline, first_seen_at=NOW - dt.timedelta(hours=1))
        return make_topic([article], headline=headline, article_count=1, **fields)

    def test_an_empty_newsroom_says_so(self) -> None:
        response = self.client.get(INDEX)
        self.assertContains(response, "Last fetch: never")
        self.assertContains(response, "No topics yet today.")
        self.assertContains(response, "Not built yet")

    def test_it_shows_pipeline_health(self) -> None:
        make_source(name="Good", last_fetched_at=NOW - dt.timedelta(minutes=10))
        make_source(name="Broken", consecutive_errors=3, last_error="HTTP 500")
        make_source(name="Off", is_active=False, consecutive_errors=9)
        Success.objects.create(
            id="a1", name="fetch", func="topics.tasks.fetch_round", started=NOW, success=True,
            stopped=NOW - dt.timedelta(minutes=5),
        )  # fmt: skip
        Failure.objects.create(
            id="b2", name="oops", func="newsletter.tasks.daily_digest", started=NOW,
            stopped=NOW - dt.timedelta(hours=1), success=False,
        )  # fmt: skip
        dash = build_dashboard(NOW)
        self.assertEqual(dash.last_fetch_at, NOW - dt.timedelta(minutes=10))
        self.assertEqual([s.name for s in dash.failing_sources], ["Broken"])
        self.assertEqual(dash.last_clustering_at, NOW - dt.timedelta(minutes=5))
        self.assertEqual(dash.failed_tasks, 1)
        self.assertEqual(dash.queue_length, 0)
        response = self.client.get(INDEX)
        self.assertContains(response, "Last fetch: 10\xa0minutes ago")
        self.assertContains(response, "Broken</a>: 3 errors")

    def test_it_lists_todays_topics_ranked_and_the_digest_status(self) -> None:
        self.topic("Second story", score=1.0)
        first = self.topic("First story", score=9.0)
        digest = Digest.objects.create(date=NOW.date(), subject="Daybrief")
        Delivery.objects.create(digest=digest, subscriber=make_subscriber(), status="sent")
        Delivery.objects.create(
            digest=digest, subscriber=make_subscriber(), status=DeliveryStatus.FAILED
        )
        dash = build_dashboard(NOW)
        self.assertEqual([t.headline for t in dash.topics], ["First story", "Second story"])
        self.assertEqual(dash.digest_counts, {"sent": 1, "failed": 1})
        response = self.client.get(INDEX)
        self.assertContains(response, reverse("admin:topics_topic_change", args=[first.pk]))
        self.assertContains(response, reverse("admin:newsletter_digest_preview", args=[digest.pk]))

    def test_before_the_digest_is_built_it_says_when_it_will_be(self) -> None:
        schedules.register_schedules()
        response = self.client.get(INDEX)
        self.assertContains(response, "Next send: Wed 22 Apr, 07:00 (daily schedule).")

    def test_the_index_costs_the_same_queries_for_few_and_many_topics(self) -> None:
        self.topic("One")
        with CaptureQueriesContext(connection) as few:
            self.client.get(INDEX)
        for n in range(10):
            self.topic(f"Story {n}")
            make_source(consecutive_errors=1)
        with CaptureQueriesContext(connection) as many:
            self.client.get(INDEX)
        self.assertEqual(len(many), len(few))
