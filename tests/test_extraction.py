"""Optional full-article extraction for sources whose feeds carry only stubs, against
a local HTTP server (trafilatura runs offline on the served page)."""

import datetime as dt

import time_machine
from django.test import TestCase

from tests.factories import make_source
from tests.feedserver import FeedServer
from topics import extraction
from topics.extraction import extract_article
from topics.feed_http import Limits
from topics.fetching import Status, fetch_source
from topics.models import Article

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=3)
HTML = {"Content-Type": "text/html; charset=utf-8"}
FAST = Limits(connect=2.0, total=10.0, read=3.0)
STORY = (
    "The harbour authority reopened the northern container terminal on Monday after a "
    "three-week closure caused by storm damage to two cranes. Engineers replaced the "
    "damaged rail sections and inspected every berth before ships were allowed back. "
    "Shipping lines said the delay had pushed about forty vessels to other ports, and "
    "that schedules should return to normal by the end of the month. The authority "
    "estimated the repair bill at twelve million euros, most of it covered by insurance."
)


def page(story: str = STORY) -> bytes:
    paragraphs = "".join(f"<p>{sentence}.</p>" for sentence in story.split(". "))
    return (
        "<!doctype html><html><head><title>Terminal reopens</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/sport'>Sport</a></nav>"
        "<div class='cookie'>We use cookies to improve your experience.</div>"
        f"<article><h1>Terminal reopens</h1>{paragraphs}"
        "<script>track()</script></article>"
        "<footer>Copyright Harbor Ledger. All rights reserved. Subscribe now.</footer>"
        "</body></html>"
    ).encode()


def feed(
    link: str,
    description: str = "Terminal reopens.",
    title: str = "Terminal reopens",
    content: str = "",
) -> bytes:
    encoded = f"<content:encoded><![CDATA[{content}]]></content:encoded>" if content else ""
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Harbor</title>'
        f"<item><guid>t1</guid><title>{title}</title><link>{link}</link>"
        f"<description>{description}</description>{encoded}</item></channel></rss>"
    ).encode()


@time_machine.travel(NOW, tick=False)
class FullTextTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())
        self.server.route("/story", page(), headers=HTML)
        self.server.route("/feed", feed(self.server.url("/story")))

    def fetch(self, **fields: object):
        source = make_source(feed_url=self.server.url("/feed"), **fields)
        return fetch_source(source.pk, FAST)

    def test_off_by_default_the_page_is_never_fetched(self) -> None:
        self.fetch()

        self.assertEqual(self.server.requests_for("/story"), [])
        self.assertEqual(Article.objects.get().text, "Terminal reopens Terminal reopens.")

    def test_a_stub_entry_gets_the_main_text_of_its_page(self) -> None:
        result = self.fetch(fetch_full_text=True)

        article = Article.objects.get()
        self.assertEqual((result.status, result.new), (Status.OK, 1))
        self.assertIn("three-week closure caused by storm damage", article.text)
        self.assertIn("<p>", article.content_html)
        for chrome in ("cookies", "Copyright", "Sport", "track()"):
            self.assertNotIn(chrome, article.text)
        self.assertNotIn("<script", article.content_html)
        self.assertEqual(article.summary_html, "Terminal reopens.")  # the feed's own text stays
        self.assertTrue(article.is_extracted)

    def test_an_entry_with_enough_text_is_left_alone(self) -> None:
        self.server.route("/feed", feed(self.server.url("/story"), description=STORY))

        self.fetch(fetch_full_text=True)

        self.assertEqual(self.server.requests_for("/story"), [])

    def test_a_page_that_fails_keeps_the_feeds_text_and_the_fetch_succeeds(self) -> None:
        self.server.route("/story", b"gone", status=404)

        result = self.fetch(fetch_full_text=True)

        self.assertEqual(result.status, Status.OK)
        self.assertEqual(Article.objects.get().text, "Terminal reopens Terminal reopens.")

    def test_an_updated_stub_entry_has_its_page_extracted_again(self) -> None:
        result = self.fetch(fetch_full_text=True)
        updated_page = page(STORY.replace("twelve million", "fourteen million"))
        self.server.route("/story", updated_page, headers=HTML)
        self.server.route("/feed", feed(self.server.url("/story"), title="Terminal reopens fully"))

        with time_machine.travel(LATER, tick=False):
            again = fetch_source(result.source_id, FAST)

        article = Article.objects.get()
        self.assertEqual((again.new, again.updated), (0, 1))
        self.assertEqual(article.title, "Terminal reopens fully")
        self.assertTrue(article.text.startswith("Terminal reopens fully "), article.text)
        self.assertIn("three-week closure caused by storm damage", article.text)
        self.assertIn("repair bill at fourteen million euros", article.text)
        self.assertEqual(article.first_seen_at, NOW)  # an update, not news again

    def test_an_updated_stub_entry_whose_page_fails_keeps_the_full_text(self) -> None:
        result = self.fetch(fetch_full_text=True)
        extracted = Article.objects.get().content_html
        self.server.route("/story", b"down for maintenance", status=503)
        self.server.route("/feed", feed(self.server.url("/story"), title="Terminal reopens fully"))

        with time_machine.travel(LATER, tick=False):
            again = fetch_source(result.source_id, FAST)

        article = Article.objects.get()
        self.assertEqual((again.status, again.updated), (Status.OK, 1))
        self.assertEqual(len(self.server.requests_for("/story")), 2)  # it was tried
        self.assertEqual(article.title, "Terminal reopens fully")
        self.assertEqual(article.content_html, extracted)
        self.assertTrue(article.is_extracted)
        self.assertTrue(article.text.startswith("Terminal reopens fully "), article.text)
        self.assertIn("three-week closure caused by storm damage", article.text)

    def test_an_update_with_new_feed_text_whose_page_fails_takes_the_feeds_text(self) -> None:
        result = self.fetch(fetch_full_text=True)
        self.server.route("/story", b"down for maintenance", status=503)
        correction = "Terminal reopens on Tuesday, not Monday."
        self.server.route("/feed", feed(self.server.url("/story"), correction))

        with time_machine.travel(LATER, tick=False):
            fetch_source(result.source_id, FAST)

        # The page text stood for the feed's old text; kept now, it would hide the correction.
        article = Article.objects.get()
        self.assertEqual(article.text, f"Terminal reopens {correction}")
        self.assertEqual(article.content_html, "")
        self.assertFalse(article.is_extracted)

    def test_a_shorter_feed_text_replaces_the_feeds_own_longer_text(self) -> None:
        self.server.route("/feed", feed(self.server.url("/story"), content=f"<p>{STORY}</p>"))
        result = self.fetch(fetch_full_text=True)
        shorter = STORY.rsplit(". ", 1)[0] + "."  # the publisher cut the last sentence
        self.server.route("/feed", feed(self.server.url("/story"), content=f"<p>{shorter}</p>"))

        with time_machine.travel(LATER, tick=False):
            again = fetch_source(result.source_id, FAST)

        article = Article.objects.get()
        self.assertEqual(again.updated, 1)
        self.assertEqual(article.content_html, f"<p>{shorter}</p>")
        self.assertEqual(article.text, f"Terminal reopens Terminal reopens. {shorter}")
        self.assertEqual(self.server.requests_for("/story"), [])

    def test_without_full_text_an_update_takes_the_feeds_text(self) -> None:
        result = self.fetch()
        self.server.route("/feed", feed(self.server.url("/story"), "Terminal reopens soon."))

        with time_machine.travel(LATER, tick=False):
            fetch_source(result.source_id, FAST)

        self.assertEqual(Article.objects.get().text, "Terminal reopens Terminal reopens soon.")
        self.assertEqual(self.server.requests_for("/story"), [])

    def test_pages_fetched_per_fetch_are_capped(self) -> None:
        items = "".join(
            f"<item><guid>t{n}</guid><title>Story {n}</title>"
            f"<link>{self.server.url('/story')}?n={n}</link></item>"
            for n in range(extraction.MAX_PAGES_PER_FETCH + 3)
        )
        self.server.route(
            "/feed", f'<rss version="2.0"><channel><title>H</title>{items}</channel></rss>'
        )

        self.fetch(fetch_full_text=True)

        self.assertEqual(len(self.server.requests_for("/story")), extraction.MAX_PAGES_PER_FETCH)

    def test_a_page_that_is_not_html_gives_nothing(self) -> None:
        self.server.route("/pdf", b"%PDF-1.7", headers={"Content-Type": "application/pdf"})

        self.assertIsNone(extract_article(self.server.url("/pdf"), FAST))
