"""Admin pages cost a fixed number of queries, whatever the number of rows: every filter of
the topic and article lists, change pages with their inlines, and the confirmation pages."""

import datetime as dt

import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from newsletter.models import Delivery, Digest, ReaderEmail, ReaderEmailKind
from tests.factories import make_article, make_source, make_subscriber, make_topic
from topics.models import Topic

NOW = dt.datetime(2026, 4, 21, 7, 0, tzinfo=dt.UTC)
TOPICS = reverse("admin:topics_topic_changelist")
ARTICLES = reverse("admin:topics_article_changelist")


@time_machine.travel(NOW, tick=False)
class QueryCountTests(TestCase):
    def setUp(self) -> None:
        self.editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
        self.client.force_login(self.editor)
        self.source = make_source(name="Wire")
        self.reader = make_subscriber("ada@example.com")
        self.topics: list[Topic] = []

    def add_topics(self, n: int) -> None:
        for _ in range(n):
            articles = [
                make_article(self.source, first_seen_at=NOW, title=f"Story {len(self.topics)}")
                for _ in range(2)
            ]
            topic = make_topic(
                articles, headline=f"Story {len(self.topics)}", article_count=2, source_count=4,
                category="business", is_pinned=True,
            )  # fmt: skip
            self.topics.append(topic)
            day = NOW.date() - dt.timedelta(days=Digest.objects.count())
            digest = Digest.objects.create(date=day, subject="Daybrief")
            Delivery.objects.create(digest=digest, subscriber=self.reader)
            ReaderEmail.objects.create(subscriber=self.reader, kind=ReaderEmailKind.CONFIRM)

    def queries(self, url: str, data: dict | None = None) -> int:
        # A first request fills process-wide caches (content types); measure the next one.
        self.client.get(url) if data is None else self.client.post(url, data)
        with CaptureQueriesContext(connection) as captured:
            response = self.client.get(url) if data is None else self.client.post(url, data)
            self.assertEqual(response.status_code, 200, url)
        return len(captured)

    def assert_constant(self, urls: dict[str, str]) -> None:
        self.add_topics(2)
        few = {name: self.queries(url.format(t=self.topics[0])) for name, url in urls.items()}
        self.add_topics(6)
        many = {name: self.queries(url.format(t=self.topics[0])) for name, url in urls.items()}
        self.assertEqual(many, few)

    def test_every_topic_filter_costs_the_same_for_2_and_8_topics(self) -> None:
        self.assert_constant({
            "plain": TOPICS,
            "day": TOPICS + "?day=today",
            "category": TOPICS + "?category=business",
            "coverage": TOPICS + "?coverage=wide",
            "state": TOPICS + "?state=pinned",
            "search": TOPICS + "?q=Story",
        })  # fmt: skip

    def test_every_article_filter_costs_the_same_for_few_and_many(self) -> None:
        self.assert_constant({
            "plain": ARTICLES,
            "day": ARTICLES + f"?first_seen_at__gte={NOW.date()}T00:00:00%2B00:00",
            "source": ARTICLES + f"?source__id__exact={self.source.pk}",
            "topic": ARTICLES + "?topic__id__exact={t.pk}",
            "search": ARTICLES + "?q=Story",
        })  # fmt: skip

    def test_change_pages_cost_the_same_for_few_and_many_related_rows(self) -> None:
        self.assert_constant({
            "subscriber": reverse("admin:newsletter_subscriber_change", args=[self.reader.pk]),
            "subscribers": reverse("admin:newsletter_subscriber_changelist"),
            "digests": reverse("admin:newsletter_digest_changelist"),
            "deliveries": reverse("admin:newsletter_delivery_changelist"),
            "reader emails": reverse("admin:newsletter_readeremail_changelist"),
        })  # fmt: skip

    def test_a_topics_page_costs_the_same_for_2_and_8_articles(self) -> None:
        self.add_topics(1)
        topic = self.topics[0]
        url = reverse("admin:topics_topic_change", args=[topic.pk])
        few = self.queries(url)
        for n in range(6):
            article = make_article(make_source(), first_seen_at=NOW, title=f"More {n}")
            article.topic = topic
            article.save()
        self.assertEqual(self.queries(url), few)

    def test_the_merge_confirmation_costs_the_same_for_2_and_8_topics(self) -> None:
        self.add_topics(2)
        data = {"action": "merge_selected", "_selected_action": [t.pk for t in self.topics]}
        few = self.queries(TOPICS, data)
        self.add_topics(6)
        data["_selected_action"] = [t.pk for t in self.topics]
        self.assertEqual(self.queries(TOPICS, data), few)

    def test_a_filtered_topic_list_never_counts_the_whole_table(self) -> None:
        self.add_topics(3)
        with CaptureQueriesContext(connection) as captured:
            self.client.get(TOPICS + "?category=business")
        counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
        # One count, of the filtered rows, for the paginator; none of the whole table.
        self.assertEqual(len(counts), 1)
        self.assertIn("category", counts[0])
