"""Feed documents to Articles: parsing, identity, sanitizing, dates, updates."""

import datetime as dt

import time_machine
from django.test import SimpleTestCase, TestCase

from tests.factories import make_source
from topics.ingestion import NotAFeed, ingest_feed
from topics.models import Article, Kind
from topics.text import html_to_text, sanitize_html
from topics.urls_canon import canonical_url, strip_tracking, web_url

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=2)
FEED_URL = "https://news.example.com/feed.xml"
RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"


def rss(*items: str, channel_link: str = "https://news.example.com/") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Example News</title>'
        f"<link>{channel_link}</link>{''.join(items)}</channel></rss>"
    ).encode()


def item(
    guid: str | None = "urn:example:1",
    title: str | None = "Fed holds rates",
    link: str | None = "https://news.example.com/fed?utm_source=rss&id=7",
    description: str | None = "The Fed held rates steady.",
    date: str | None = "Mon, 02 Mar 2026 08:00:00 GMT",
    extra: str = "",
) -> str:
    parts = [
        f"<guid isPermaLink='false'>{guid}</guid>" if guid is not None else "",
        f"<title>{title}</title>" if title is not None else "",
        f"<link>{link}</link>" if link is not None else "",
        f"<description>{description}</description>" if description is not None else "",
        f"<pubDate>{date}</pubDate>" if date is not None else "",
        extra,
    ]
    return f"<item>{''.join(parts)}</item>"


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/posts/">
  <title>Example Blog</title>
  <link href="https://blog.example.org/"/>
  <entry>
    <id>tag:blog.example.org,2026:1</id>
    <title type="html">Chips &amp;amp; &lt;b&gt;tariffs&lt;/b&gt;</title>
    <link href="chips-tariffs"/>
    <author><name>Ada Writer</name></author>
    <published>2026-03-01T12:00:00Z</published>
    <updated>2026-03-01T13:00:00Z</updated>
    <summary>Short version.</summary>
    <content type="html">&lt;p&gt;Full story with
      &lt;a href="/about"&gt;a relative link&lt;/a&gt;.&lt;/p&gt;</content>
  </entry>
</feed>"""


@time_machine.travel(NOW, tick=False)
class IngestFeedTests(TestCase):
    def setUp(self) -> None:
        self.source = make_source(feed_url=FEED_URL, default_kind=Kind.ANALYSIS)

    def ingest(self, body: bytes, content_type: str = RSS_TYPE):
        return ingest_feed(self.source, body, content_type, FEED_URL)

    def test_rss_entry_becomes_an_article_with_clean_fields(self) -> None:
        result = self.ingest(rss(item(extra="<dc:creator>Jo Reporter</dc:creator>")))

        self.assertEqual((result.new, result.updated), (1, 0))
        article = Article.objects.get()
        self.assertEqual(article.source, self.source)
        self.assertEqual(article.identity, "urn:example:1")
        self.assertEqual(article.title, "Fed holds rates")
        self.assertEqual(article.url, "https://news.example.com/fed?id=7")
        self.assertEqual(article.author, "Jo Reporter")
        self.assertEqual(article.summary_html, "The Fed held rates steady.")
        self.assertEqual(article.text, "Fed holds rates The Fed held rates steady.")
        self.assertEqual(article.kind, Kind.ANALYSIS)
        self.assertEqual(article.published_at, dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC))
        self.assertEqual(article.first_seen_at, NOW)
        self.assertEqual(len(article.content_hash), 64)

    def test_atom_entry_resolves_relative_links_against_xml_base(self) -> None:
        result = self.ingest(ATOM, ATOM_TYPE)

        self.assertEqual(result.new, 1)
        article = Article.objects.get()
        self.assertEqual(article.identity, "tag:blog.example.org,2026:1")
        self.assertEqual(article.title, "Chips & tariffs")
        self.assertEqual(article.url, "https://blog.example.org/posts/chips-tariffs")
        self.assertEqual(article.author, "Ada Writer")
        self.assertEqual(article.published_at, dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
        self.assertIn('href="https://blog.example.org/about"', article.content_html)
        self.assertEqual(
            article.text, "Chips & tariffs Short version. Full story with a relative link."
        )

    def test_ingesting_the_same_document_again_adds_nothing(self) -> None:
        body = rss(item(), item(guid="urn:example:2", title="Second"))
        self.ingest(body)

        again = self.ingest(body)

        self.assertEqual((again.new, again.updated), (0, 0))
        self.assertEqual(Article.objects.count(), 2)

    def test_a_changed_entry_is_updated_in_place_and_keeps_its_first_seen_time(self) -> None:
        self.ingest(rss(item(title="Fed holds rates")))
        original = Article.objects.get()

        with time_machine.travel(LATER, tick=False):
            result = self.ingest(rss(item(title="Fed holds rates, signals cuts")))

        self.assertEqual((result.new, result.updated), (0, 1))
        article = Article.objects.get()
        self.assertEqual(article.pk, original.pk)
        self.assertEqual(article.title, "Fed holds rates, signals cuts")
        self.assertNotEqual(article.content_hash, original.content_hash)
        self.assertEqual(article.first_seen_at, NOW)  # so it never re-enters a digest as news
        self.assertEqual(article.updated_at, LATER)

    def test_script_forms_event_handlers_and_javascript_links_are_stripped(self) -> None:
        hostile = (
            "<![CDATA[<p onclick='steal()'>Read <a href='javascript:alert(1)'>this</a></p>"
            "<script>alert(1)</script><form action='https://evil.example/'>"
            "<input name='password'></form><img src='/x.png' onerror='steal()'>]]>"
        )
        self.ingest(rss(item(link="javascript:alert(1)", description=hostile)))

        article = Article.objects.get()
        self.assertEqual(article.url, "")
        forbidden = ["<script", "alert", "<form", "<input", "onclick", "onerror", "javascript"]
        for fragment in forbidden:
            self.assertNotIn(fragment, article.summary_html)
        self.assertIn("<p>Read <a", article.summary_html)
        # No article link to resolve against, so the relative image has no address.
        self.assertIn("<img>", article.summary_html)
        self.assertEqual(article.text, "Fed holds rates Read this")

    def test_missing_title_link_and_date_fall_back_sensibly(self) -> None:
        body = rss(
            item(guid=None, title=None, link=None, date=None, description="Markets rallied today.")
        )
        self.ingest(body)

        article = Article.objects.get()
        self.assertEqual(article.title, "Markets rallied today.")
        self.assertEqual(article.url, "")
        self.assertEqual(article.published_at, NOW)
        self.assertTrue(article.identity.startswith("sha256:"))

    def test_without_guid_the_canonical_link_is_the_identity(self) -> None:
        first = item(guid=None, link="https://www.news.example.com/a/?utm_medium=x#top")
        second = item(guid=None, link="http://news.example.com/a")
        self.ingest(rss(first, second))

        article = Article.objects.get()  # the two links are the same page
        self.assertEqual(article.identity, "https://news.example.com/a")
        self.assertEqual(article.url, "https://www.news.example.com/a/#top")

    def test_duplicate_guids_with_the_same_link_collapse_into_one_article(self) -> None:
        result = self.ingest(rss(item(title="First copy"), item(title="Second copy")))

        self.assertEqual(result.new, 1)
        self.assertEqual(Article.objects.get().title, "First copy")

    def test_a_guid_shared_by_different_stories_falls_back_to_their_links(self) -> None:
        body = rss(
            item(guid="same", link="https://news.example.com/one", title="One"),
            item(guid="same", link="https://news.example.com/two", title="Two"),
        )
        self.ingest(body)

        self.assertQuerySetEqual(
            Article.objects.order_by("identity").values_list("identity", flat=True),
            ["https://news.example.com/one", "https://news.example.com/two"],
        )

    def test_future_and_ancient_dates_are_replaced_by_the_first_seen_time(self) -> None:
        body = rss(
            item(guid="future", date="Wed, 01 Jan 2099 00:00:00 GMT"),
            item(guid="ancient", date="Thu, 01 Jan 1970 00:00:00 GMT"),
            item(guid="tomorrowish", date="Mon, 02 Mar 2026 20:00:00 GMT"),
        )
        self.ingest(body)

        dates = dict(Article.objects.values_list("identity", "published_at"))
        self.assertEqual(dates["future"], NOW)
        self.assertEqual(dates["ancient"], NOW)
        # Within a day ahead is plausible (time zones, scheduled posts): kept.
        self.assertEqual(dates["tomorrowish"], dt.datetime(2026, 3, 2, 20, tzinfo=dt.UTC))

    def test_the_updated_date_is_used_when_there_is_no_published_date(self) -> None:
        body = rss(item(date=None, extra="<dc:date>2026-02-28T10:00:00Z</dc:date>"))
        self.ingest(body)

        self.assertEqual(
            Article.objects.get().published_at, dt.datetime(2026, 2, 28, 10, tzinfo=dt.UTC)
        )

    def test_plain_text_titles_keep_angle_brackets(self) -> None:
        self.ingest(rss(item(title="Why 2 &lt; 3 matters")))

        self.assertEqual(Article.objects.get().title, "Why 2 < 3 matters")

    def test_recoverable_malformed_xml_still_yields_its_entries(self) -> None:
        # An unescaped "&" and an unclosed <b>: not well-formed, but feedparser recovers.
        result = self.ingest(rss(item(title="Tom & Jerry <b>return")))

        self.assertEqual(result.new, 1)
        self.assertIn("Tom & Jerry", Article.objects.get().title)

    def test_an_html_page_is_not_a_feed_and_stores_nothing(self) -> None:
        page = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>x</body>"

        with self.assertRaisesMessage(NotAFeed, "not a feed (got an HTML page)"):
            self.ingest(page, "text/html; charset=utf-8")
        self.assertFalse(Article.objects.exists())

    def test_hopelessly_malformed_xml_is_not_a_feed(self) -> None:
        with self.assertRaisesMessage(NotAFeed, "not a feed (malformed XML"):
            self.ingest(b"<rss><<channel>>>", "application/xml")

    def test_an_empty_body_is_not_a_feed(self) -> None:
        with self.assertRaisesMessage(NotAFeed, "not a feed (empty response)"):
            self.ingest(b"  \n", RSS_TYPE)

    def test_a_valid_feed_without_entries_is_fine(self) -> None:
        result = self.ingest(rss())

        self.assertEqual((result.new, result.updated), (0, 0))


class SanitizeHtmlTests(SimpleTestCase):
    def test_only_web_and_mail_links_survive(self) -> None:
        html = (
            '<a href="https://a.example/">w</a><a href="mailto:x@a.example">m</a>'
            '<a href="data:text/html,x">d</a><a href="vbscript:x">v</a>'
        )

        cleaned = sanitize_html(html, "https://a.example/story")

        self.assertIn('href="https://a.example/"', cleaned)
        self.assertIn('href="mailto:x@a.example"', cleaned)
        self.assertNotIn("data:", cleaned)
        self.assertNotIn("vbscript", cleaned)
        self.assertIn('rel="noopener noreferrer nofollow"', cleaned)

    def test_iframes_styles_and_comments_go_with_their_content(self) -> None:
        html = (
            "<p>Keep</p><iframe src='https://x.example'>fallback</iframe><style>p{}</style><!--c-->"
        )

        self.assertEqual(sanitize_html(html, ""), "<p>Keep</p>")

    def test_html_to_text_drops_scripts_and_collapses_whitespace(self) -> None:
        html = "<p>One&nbsp;two</p>\n<script>var x = 1;</script><p>three<br>four</p>"

        self.assertEqual(html_to_text(html), "One two three four")


class UrlTests(SimpleTestCase):
    def test_canonical_url_ignores_what_does_not_change_the_page(self) -> None:
        self.assertEqual(
            canonical_url("HTTP://WWW.Example.com:80/a/b/?b=2&utm_source=x&a=1&fbclid=z#frag"),
            "https://example.com/a/b?a=1&b=2",
        )

    def test_canonical_url_of_a_non_web_url_is_empty(self) -> None:
        self.assertEqual(canonical_url("javascript:alert(1)"), "")
        self.assertEqual(canonical_url("urn:uuid:1234"), "")

    def test_strip_tracking_keeps_everything_else(self) -> None:
        self.assertEqual(
            strip_tracking("https://a.example/p?id=3&utm_campaign=x&gclid=1#c"),
            "https://a.example/p?id=3#c",
        )

    def test_web_url_resolves_relative_links_and_refuses_other_schemes(self) -> None:
        self.assertEqual(web_url("/x", "https://a.example/feed"), "https://a.example/x")
        self.assertEqual(web_url("ftp://a.example/x"), "")
        self.assertEqual(web_url("relative/only"), "")
