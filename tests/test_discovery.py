"""Feed discovery from a site's home page, and the admin's "add by site address"."""

import datetime as dt

import time_machine
from django.contrib.auth.models import User
from django.test import SimpleTestCase, TestCase
from django.urls import reverse

from tests.factories import make_source
from tests.feedserver import FeedServer
from topics.discovery import (
    DiscoveryError,
    add_source_from_site,
    candidate_urls,
    discover_feed,
    find_source_by_feed_url,
)
from topics.feed_http import Limits
from topics.models import Relation, Source

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
FAST = Limits(connect=2.0, total=10.0, read=3.0)
RSS_HEADERS = {"Content-Type": "application/rss+xml"}
HTML_HEADERS = {"Content-Type": "text/html; charset=utf-8"}
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Harbor Ledger</title>
<link>https://harbor.example/</link>
<item><guid>h1</guid><title>Port reopens</title><link>https://harbor.example/1</link></item>
<item><guid>h2</guid><title>Cranes back</title><link>https://harbor.example/2</link></item>
</channel></rss>"""


def home_page(head: str = "") -> bytes:
    page = f"<!doctype html><html><head><title>Harbor</title>{head}</head><body>Hi</body></html>"
    return page.encode()


class CandidateTests(SimpleTestCase):
    def test_advertised_feeds_come_first_in_page_order_with_comment_feeds_last(self) -> None:
        page = home_page(
            '<link rel="alternate" type="application/rss+xml" title="Comments" '
            'href="/comments.xml">'
            '<link rel="stylesheet" href="/style.css">'
            '<link rel="alternate" type="application/atom+xml" title="Posts" href="/posts.atom">'
            '<link rel="alternate" type="text/html" href="/other">'
        )

        urls = candidate_urls(page, "https://harbor.example/news/")

        self.assertEqual(
            urls[:3],
            [
                "https://harbor.example/posts.atom",
                "https://harbor.example/comments.xml",
                "https://harbor.example/feed",
            ],
        )
        self.assertIn("https://harbor.example/index.xml", urls)

    def test_javascript_and_other_schemes_are_never_candidates(self) -> None:
        page = home_page(
            '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
        )

        self.assertFalse(
            any(url.startswith("javascript") for url in candidate_urls(page, "https://h.example/"))
        )


@time_machine.travel(NOW, tick=False)
class DiscoverFeedTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())
        self.server.route("/feeds/main.xml", FEED, headers=RSS_HEADERS)

    def test_the_feed_a_home_page_advertises_is_found(self) -> None:
        link = '<link rel="alternate" type="application/rss+xml" href="/feeds/main.xml">'
        self.server.route("/", home_page(link), headers=HTML_HEADERS)

        found = discover_feed(self.server.url("/"), FAST)

        self.assertEqual(found.feed_url, self.server.url("/feeds/main.xml"))
        self.assertEqual(
            (found.title, found.homepage_url), ("Harbor Ledger", "https://harbor.example/")
        )

    def test_a_feed_url_given_as_the_site_is_taken_as_it_is(self) -> None:
        found = discover_feed(self.server.url("/feeds/main.xml"), FAST)

        self.assertEqual(found.feed_url, self.server.url("/feeds/main.xml"))
        self.assertEqual(len(self.server.requests), 1)

    def test_without_an_advertised_feed_the_usual_paths_are_tried(self) -> None:
        self.server.route("/", home_page(), headers=HTML_HEADERS)
        self.server.route("/rss.xml", FEED, headers=RSS_HEADERS)

        found = discover_feed(self.server.url("/"), FAST)

        self.assertEqual(found.feed_url, self.server.url("/rss.xml"))

    def test_a_site_without_a_feed_is_a_clear_error(self) -> None:
        self.server.route("/", home_page(), headers=HTML_HEADERS)

        with self.assertRaisesMessage(DiscoveryError, f"no feed found at {self.server.url('/')}"):
            discover_feed(self.server.url("/"), FAST)
        # The home page and a bounded number of guesses, no more.
        self.assertLessEqual(len(self.server.requests), 1 + 8)

    def test_an_unreachable_site_is_a_clear_error(self) -> None:
        with self.assertRaisesMessage(DiscoveryError, "could not read http://127.0.0.1:9/"):
            discover_feed("http://127.0.0.1:9/", FAST)

    def test_adding_a_source_stores_its_first_articles_without_a_second_request(self) -> None:
        link = '<link rel="alternate" type="application/rss+xml" href="/feeds/main.xml">'
        self.server.route("/", home_page(link), headers=HTML_HEADERS)

        source = add_source_from_site(self.server.url("/"), FAST, relation=Relation.FIRST_PARTY)

        self.assertEqual(source.name, "Harbor Ledger")
        self.assertEqual(source.relation, Relation.FIRST_PARTY)
        self.assertEqual(source.articles.count(), 2)
        self.assertEqual((source.last_status, source.last_fetched_at), (200, NOW))
        self.assertEqual(len(self.server.requests_for("/feeds/main.xml")), 1)

    def test_a_feed_that_is_already_a_source_is_not_added_twice(self) -> None:
        make_source(name="Harbor", feed_url=self.server.url("/feeds/main.xml"))

        with self.assertRaisesMessage(DiscoveryError, "is already the source “Harbor”"):
            add_source_from_site(self.server.url("/feeds/main.xml"), FAST)

    def test_an_old_url_kept_as_an_alias_finds_its_source(self) -> None:
        moved = make_source(
            feed_url="https://new.example/feed", feed_url_aliases=["https://old.example/feed"]
        )

        self.assertEqual(find_source_by_feed_url("https://old.example/feed"), moved)
        self.assertIsNone(find_source_by_feed_url("https://elsewhere.example/feed"))


@time_machine.travel(NOW, tick=False)
class SourceAdminTests(TestCase):
    def setUp(self) -> None:
        self.editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
        self.client.force_login(self.editor)
        self.server = self.enterContext(FeedServer())
        self.server.route("/feeds/main.xml", FEED, headers=RSS_HEADERS)

    def test_an_editor_adds_a_source_by_its_site_address(self) -> None:
        link = '<link rel="alternate" type="application/rss+xml" href="/feeds/main.xml">'
        self.server.route("/", home_page(link), headers=HTML_HEADERS)
        url = reverse("admin:topics_source_add_by_site")
        self.assertContains(self.client.get(url), "Find the feed and add it")

        response = self.client.post(
            url,
            {
                "site_url": self.server.url("/"),
                "relation": "third-party",
                "default_kind": "analysis",
            },
            follow=True,
        )

        source = Source.objects.get()
        self.assertRedirects(response, reverse("admin:topics_source_change", args=[source.pk]))
        self.assertContains(response, "Added “Harbor Ledger”")
        self.assertContains(response, "2 articles stored")
        self.assertEqual(source.default_kind, "analysis")

    def test_a_site_without_a_feed_is_explained_on_the_form(self) -> None:
        self.server.route("/", home_page(), headers=HTML_HEADERS)

        response = self.client.post(
            reverse("admin:topics_source_add_by_site"),
            {"site_url": self.server.url("/"), "relation": "third-party", "default_kind": "news"},
        )

        self.assertContains(response, "no feed found at")
        self.assertFalse(Source.objects.exists())

    def test_the_add_form_points_to_discovery(self) -> None:
        response = self.client.get(reverse("admin:topics_source_add"))

        self.assertContains(response, reverse("admin:topics_source_add_by_site"))

    def test_the_source_list_shows_each_sources_health(self) -> None:
        make_source(name="Fine", last_fetched_at=NOW, publish_interval=dt.timedelta(hours=2))
        make_source(
            name="Failing",
            last_fetched_at=NOW,
            consecutive_errors=6,
            last_error="timed out after 20 s",
        )
        make_source(name="Gone", is_active=False, last_error="HTTP 410 Gone")
        make_source(name="New")

        response = self.client.get(reverse("admin:topics_source_changelist"))

        self.assertContains(response, "✔ OK, publishes every 2 h")
        self.assertContains(response, "✖ 6 errors: timed out after 20 s")
        self.assertContains(response, "⏸ inactive")
        self.assertContains(response, "— not fetched yet")
