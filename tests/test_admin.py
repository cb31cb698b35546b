"""The admin: every page opens, the fetch-now action, and editors' edits that stick."""

import datetime as dt

from django.contrib.auth.models import User
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Delivery, DeliveryStatus, Digest, DigestTopic, Subscriber
from tests.factories import make_article, make_source, make_subscriber, make_topic
from tests.feedserver import FeedServer
from topics.admin import mark_edited
from topics.demo.content import articles_of, get_source
from topics.demo.feeds import render_feed
from topics.models import Article, Source, Topic

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


class AdminTestCase(TestCase):
    def setUp(self) -> None:
        self.editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
        self.client.force_login(self.editor)


class AdminPagesTests(AdminTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.source = make_source(name="Northwire")
        self.article = make_article(self.source, title="Lumora buys Brightwave")
        self.topic = make_topic([self.article], headline="Lumora buys Brightwave", article_count=1)
        self.subscriber = make_subscriber("ada@example.com")
        self.digest = Digest.objects.create(date=NOW.date(), subject="Your Daybrief")
        DigestTopic.objects.create(digest=self.digest, topic=self.topic, position=1)
        self.delivery = Delivery.objects.create(digest=self.digest, subscriber=self.subscriber)

    def test_every_changelist_and_change_page_opens(self) -> None:
        rows = [self.source, self.article, self.topic, self.subscriber, self.digest, self.delivery]
        for row in rows:
            opts = row._meta
            with self.subTest(model=opts.model_name):
                changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
                change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
                self.assertEqual(self.client.get(changelist).status_code, 200)
                self.assertEqual(self.client.get(change).status_code, 200)

    def test_add_pages_open_for_editable_models(self) -> None:
        for model in (Source, Article, Topic, Subscriber, Digest):
            opts = model._meta
            with self.subTest(model=opts.model_name):
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
                self.assertEqual(self.client.get(url).status_code, 200)

    def test_the_admin_is_titled_daybrief_newsroom(self) -> None:
        self.assertContains(self.client.get(reverse("admin:index")), "Daybrief newsroom")

    def test_changelist_searches_and_filters_answer(self) -> None:
        checks = {
            "admin:topics_source_changelist": "?q=north&is_active__exact=1",
            "admin:topics_article_changelist": f"?q=Lumora&source__id__exact={self.source.pk}",
            "admin:topics_topic_changelist": "?q=Brightwave&day=today&coverage=single",
            "admin:newsletter_subscriber_changelist": "?q=ada&status__exact=confirmed",
            "admin:newsletter_delivery_changelist": "?status__exact=pending",
        }
        for name, query in checks.items():
            with self.subTest(page=name):
                response = self.client.get(reverse(name) + query)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.context["cl"].result_count, 1)

    def test_the_article_list_links_its_topic(self) -> None:
        response = self.client.get(reverse("admin:topics_article_changelist"))
        topic_url = reverse("admin:topics_topic_change", args=[self.topic.pk])
        self.assertContains(response, f'<a href="{topic_url}">Lumora buys Brightwave</a>')

    def test_the_topic_page_lists_its_articles_read_only(self) -> None:
        response = self.client.get(reverse("admin:topics_topic_change", args=[self.topic.pk]))
        self.assertContains(response, "Lumora buys Brightwave")
        self.assertNotContains(response, 'name="articles-0-title"')

    def test_the_topic_list_shows_coverage(self) -> None:
        Topic.objects.filter(pk=self.topic.pk).update(source_count=4, article_count=5)
        response = self.client.get(reverse("admin:topics_topic_changelist"))
        self.assertContains(response, "4 sources · 5 articles")

    def test_the_digest_list_counts_deliveries_by_status(self) -> None:
        for status in (DeliveryStatus.SENT, DeliveryStatus.SENT, DeliveryStatus.FAILED):
            Delivery.objects.create(digest=self.digest, subscriber=make_subscriber(), status=status)
        response = self.client.get(reverse("admin:newsletter_digest_changelist"))
        self.assertContains(response, "1 pending · 2 sent · 1 failed")

    def test_deliveries_are_a_read_only_log(self) -> None:
        url = reverse("admin:newsletter_delivery_change", args=[self.delivery.pk])
        self.assertNotContains(self.client.get(url), 'name="_save"')
        response = self.client.post(url, {"status": DeliveryStatus.SENT})
        self.assertEqual(response.status_code, 403)
        self.delivery.refresh_from_db()
        self.assertEqual(self.delivery.status, DeliveryStatus.PENDING)


class ChangelistQueryCountTests(AdminTestCase):
    """A changelist costs the same number of queries for 2 rows as for 6."""

    def _queries(self, url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.client.get(url).status_code, 200)
        return len(queries)

    def _add_rows(self) -> None:
        for _ in range(2):
            article = make_article()
            topic = make_topic([article], headline=article.title, article_count=1)
            digest = Digest.objects.create(
                date=NOW.date() - dt.timedelta(days=Digest.objects.count()), subject="Daybrief"
            )
            DigestTopic.objects.create(digest=digest, topic=topic, position=1)
            Delivery.objects.create(digest=digest, subscriber=make_subscriber())

    def test_changelists_do_not_query_per_row(self) -> None:
        names = ["source", "article", "topic", "subscriber", "digest", "delivery"]
        apps = {"source": "topics", "article": "topics", "topic": "topics"}
        urls = [reverse(f"admin:{apps.get(n, 'newsletter')}_{n}_changelist") for n in names]
        self._add_rows()
        before = [self._queries(url) for url in urls]
        self._add_rows()
        self._add_rows()
        self.assertEqual([self._queries(url) for url in urls], before)


class FetchNowActionTests(AdminTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.server = self.enterContext(FeedServer())
        demo = get_source("greenline")
        assert demo is not None
        feed = render_feed(
            demo,
            timezone.now(),
            homepage_url=self.server.url("/"),
            article_url=lambda article: self.server.url(f"/{article.slug}/"),
            feed_url=self.server.url("/feed.xml"),
        )
        self.server.route("/feed.xml", feed.body, headers={"Content-Type": feed.content_type})

    def _fetch_now(self, *sources: Source) -> object:
        return self.client.post(
            reverse("admin:topics_source_changelist"),
            {"action": "fetch_now", "_selected_action": [source.pk for source in sources]},
            follow=True,
        )

    def test_fetch_now_stores_new_articles_and_reports_counts(self) -> None:
        source = make_source(name="Greenline", feed_url=self.server.url("/feed.xml"))
        response = self._fetch_now(source)
        expected = len(articles_of("greenline"))
        self.assertContains(response, f"Fetched 1 of 1 sources: {expected} new articles.")
        self.assertEqual(Article.objects.filter(source=source).count(), expected)
        source.refresh_from_db()
        self.assertEqual(source.last_status, 200)

    def test_fetch_now_reports_each_failure(self) -> None:
        good = make_source(name="Greenline", feed_url=self.server.url("/feed.xml"))
        self.server.route("/missing.xml", b"gone fishing", status=404)
        bad = make_source(name="Broken feed", feed_url=self.server.url("/missing.xml"))
        response = self._fetch_now(good, bad)
        self.assertContains(response, "Fetched 1 of 2 sources")
        self.assertContains(response, "Broken feed: HTTP 404")
        bad.refresh_from_db()
        self.assertEqual(bad.consecutive_errors, 1)


class TopicEditingTests(AdminTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.article = make_article(title="Orbitly fined 310 million crowns")
        self.topic = make_topic(
            [self.article],
            headline="Orbitly fined",
            dek="A fine.",
            summary="Longer.",
            category="policy",
            tags=["Orbitly"],
            primary_entity="Orbitly",
            article_count=1,
        )

    def _post(self, **changes: object) -> None:
        topic = self.topic
        data = {
            "headline": topic.headline,
            "dek": topic.dek,
            "summary": topic.summary,
            "category": topic.category,
            "tags": '["Orbitly"]',
            # JSON fields with a callable default post their initial value too, as a browser does.
            "initial-tags": '["Orbitly"]',
            "initial-edited_fields": "[]",
            "primary_entity": topic.primary_entity,
            "importance_boost": "0",
            "lead_article": "",
            "edited_fields": "[]",
            "articles-TOTAL_FORMS": "1",
            "articles-INITIAL_FORMS": "1",
            "articles-MIN_NUM_FORMS": "0",
            "articles-MAX_NUM_FORMS": "0",
            "articles-0-id": str(self.article.pk),
            "articles-0-topic": str(topic.pk),
        }
        data.update({key: str(value) for key, value in changes.items()})
        url = reverse("admin:topics_topic_change", args=[topic.pk])
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 302, getattr(response, "context", None))
        self.topic.refresh_from_db()

    def test_an_edited_headline_is_marked_so_enrichment_keeps_it(self) -> None:
        self._post(headline="Orbitly hit with record app store fine")
        self.assertEqual(self.topic.headline, "Orbitly hit with record app store fine")
        self.assertEqual(self.topic.edited_fields, ["headline"])

    def test_fields_saved_unchanged_are_not_marked(self) -> None:
        self._post(is_pinned="on")
        self.assertTrue(self.topic.is_pinned)
        self.assertEqual(self.topic.edited_fields, [])

    def test_later_edits_add_to_the_marked_fields(self) -> None:
        self._post(dek="The regulator wants outside payment links within 90 days.")
        self._post(tags='["Orbitly", "Jonah Pike"]', edited_fields='["dek"]')
        self.assertEqual(self.topic.edited_fields, ["dek", "tags"])
        self.assertEqual(self.topic.tags, ["Orbitly", "Jonah Pike"])

    def test_mark_edited_keeps_order_and_ignores_other_fields(self) -> None:
        marked = mark_edited(["summary"], ["is_pinned", "headline", "summary", "category"])
        self.assertEqual(marked, ["summary", "headline", "category"])


class ArticleEditingTests(AdminTestCase):
    def test_moving_an_article_to_another_topic_locks_it_there(self) -> None:
        article = make_article(title="Brightwave shares jump 37%")
        old = make_topic([article], headline="Old", needs_enrichment=False)
        new = make_topic([], headline="New", needs_enrichment=False)
        published = timezone.localtime(article.published_at)
        data = {
            "source": article.source_id,
            "url": article.url,
            "title": article.title,
            "author": "",
            "summary_html": "",
            "content_html": "",
            "text": article.text,
            "kind": article.kind,
            "published_at_0": published.date().isoformat(),
            "published_at_1": published.time().isoformat(),
            "importance": "1",
            "topic": new.pk,
        }
        url = reverse("admin:topics_article_change", args=[article.pk])
        self.assertEqual(self.client.post(url, data).status_code, 302)
        article.refresh_from_db()
        self.assertEqual((article.topic, article.topic_locked), (new, True))
        # Both topics changed membership, so both need their summaries redone.
        self.assertEqual(Topic.objects.filter(needs_enrichment=True).count(), 2)
        self.assertEqual(
            {t.pk for t in Topic.objects.filter(needs_enrichment=True)}, {old.pk, new.pk}
        )
