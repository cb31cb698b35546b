"""The bad-input catalogue (issue 3): each case served by a local HTTP server.

Every failing case runs in a round beside a healthy source and checks the same three
promises: the source records a plain-words error and its next attempt, what it had
stored before is neither lost nor duplicated, and the other source is fetched normally.
"""

import datetime as dt
import email.utils
import gzip
from pathlib import Path
from tempfile import TemporaryDirectory
from unittest import mock

import time_machine
from django.test import TestCase, override_settings

from tests.factories import make_article, make_source
from tests.feedserver import FeedServer
from topics import feed_http
from topics.feed_http import Limits
from topics.fetching import SourceResult, Status, fetch_sources
from topics.models import Article, Source

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
# Generous for a loaded CI machine; only the stall tests use a short read timeout.
FAST = Limits(connect=2.0, total=10.0, read=3.0)
STALL = Limits(connect=2.0, total=10.0, read=0.2)
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}
ATOM = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab</title>
<entry><id>urn:lab:1</id><title>New chip</title><link href="https://lab.example/chip"/>
<updated>2026-03-01T10:00:00Z</updated></entry>
</feed>"""


def rss(items: str, prolog: str = '<?xml version="1.0"?>') -> bytes:
    return (
        f'{prolog}<rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example/</link>{items}</channel></rss>"
    ).encode()


def item(n: int, title: str = "Story", extra: str = "") -> str:
    return (
        f"<item><guid>wire-{n}</guid><title>{title} {n}</title>"
        f"<link>https://wire.example/{n}</link>"
        f"<pubDate>Mon, 02 Mar 2026 08:00:00 GMT</pubDate>{extra}</item>"
    )


RUSSIAN = [
    (
        "Налоги для малого бизнеса снизят с весны",
        "Министр экономики рассказал журналистам, что программа поддержки начнёт "
        "работать в апреле и затронет около миллиона предпринимателей.",
    ),
    (
        "В Москве открылась новая станция метро",
        "Станция стала сто пятой в городе; первые пассажиры прошли через турникеты утром.",
    ),
]
RUSSIAN_ITEMS = "".join(
    f"<item><guid>ru-{n}</guid><title>{title}</title><description>{text}</description></item>"
    for n, (title, text) in enumerate(RUSSIAN)
)


@time_machine.travel(NOW, tick=False)
class BadInputTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())
        self.server.route("/good", ATOM, headers={"Content-Type": "application/atom+xml"})
        self.good = make_source(name="Good", feed_url=self.server.url("/good"))

    def round_with(self, url: str, limits: Limits = FAST) -> tuple[Source, SourceResult]:
        victim = make_source(name="Victim", feed_url=url)
        make_article(victim, identity="kept-1", title="Kept")
        result = fetch_sources([victim.pk, self.good.pk], limits)
        by_id = {r.source_id: r for r in result.results}
        victim.refresh_from_db()
        self.assertEqual(by_id[self.good.pk].status, Status.OK)
        self.assertEqual(self.good.articles.count(), 1)
        return victim, by_id[victim.pk]

    def assert_fails_cleanly(
        self, path: str, error: str, limits: Limits = FAST, url: str = ""
    ) -> Source:
        """`error` is the exact message, or its start when it ends with "…"."""
        victim, result = self.round_with(url or self.server.url(path), limits)
        self.assertEqual(result.status, Status.FAILED)
        if error.endswith("…"):
            self.assertTrue(victim.last_error.startswith(error[:-1]), victim.last_error)
        else:
            self.assertEqual(victim.last_error, error)
        self.assertEqual(result.error, victim.last_error)
        self.assertEqual(victim.consecutive_errors, 1)
        self.assertIsNotNone(victim.next_fetch_at)
        self.assertGreater(victim.next_fetch_at, NOW)
        self.assertTrue(victim.is_active)
        self.assertEqual(
            list(victim.articles.values_list("identity", "title")), [("kept-1", "Kept")]
        )
        return victim

    def test_malformed_xml(self) -> None:
        self.server.route("/bad", b"<rss><channel><<item>", headers=RSS_HEADERS)

        self.assert_fails_cleanly("/bad", "not a feed (malformed XML…")

    def test_an_html_page_instead_of_a_feed(self) -> None:
        page = b"<!doctype html><html><head><title>Welcome</title></head><body>Hi</body></html>"
        self.server.route("/bad", page, headers={"Content-Type": "text/html"})

        self.assert_fails_cleanly("/bad", "not a feed (got an HTML page)")

    def test_a_bot_protection_challenge_marked_by_its_header(self) -> None:
        page = b"<html><title>Attention Required</title></html>"
        headers = {"Content-Type": "text/html", "cf-mitigated": "challenge"}
        self.server.route("/bad", page, status=403, headers=headers)

        self.assert_fails_cleanly("/bad", "blocked by bot protection (HTTP 403)")

    def test_a_bot_protection_challenge_page_without_the_header(self) -> None:
        page = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>"
        self.server.route("/bad", page, status=503, headers={"Content-Type": "text/html"})

        self.assert_fails_cleanly("/bad", "blocked by bot protection (HTTP 503)")

    def test_a_bot_protection_challenge_served_with_status_200(self) -> None:
        page = b"<html><body><div id='cf-browser-verification'>Checking your browser</div>"
        self.server.route("/bad", page, headers={"Content-Type": "text/html"})

        self.assert_fails_cleanly(
            "/bad", "blocked by bot protection (got a challenge page instead of the feed)"
        )

    def test_an_empty_200(self) -> None:
        self.server.route("/bad", b"", headers=RSS_HEADERS)

        self.assert_fails_cleanly("/bad", "not a feed (empty response)")

    def test_a_gzip_bomb(self) -> None:
        bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))  # ~50 KiB on the wire
        self.server.route("/bad", bomb, headers={"Content-Encoding": "gzip", **RSS_HEADERS})

        self.assert_fails_cleanly(
            "/bad", "feed larger than 1 MiB", Limits(read=1.0, max_bytes=1024 * 1024)
        )

    def test_a_body_over_the_cap(self) -> None:
        self.server.route("/bad", rss(item(1)) + b" " * 5000, headers=RSS_HEADERS)

        self.assert_fails_cleanly("/bad", "feed larger than 0.00390625 MiB", Limits(max_bytes=4096))

    def test_a_server_that_never_answers(self) -> None:
        self.server.stall("/bad", before_headers=True)

        self.assert_fails_cleanly("/bad", "timed out: no data for 0.2 s", STALL)

    def test_a_server_that_trickles_bytes(self) -> None:
        self.server.trickle("/bad", sent=rss(item(1))[:100], headers=RSS_HEADERS)

        # Each read gets a byte well within the read timeout; the total deadline ends it.
        self.assert_fails_cleanly("/bad", "timed out after 0.3 s", Limits(total=0.3, read=0.2))

    def test_a_redirect_loop(self) -> None:
        self.server.route("/bad", status=302, headers={"Location": "/loop"})
        self.server.route("/loop", status=302, headers={"Location": "/bad"})

        self.assert_fails_cleanly(
            "/bad", f"redirect loop: the server sent us back to {self.server.url('/bad')}"
        )

    def test_a_404(self) -> None:
        self.server.route("/bad", b"nope", status=404)

        self.assert_fails_cleanly("/bad", "HTTP 404 (not found)")

    def test_a_410_deactivates_the_source_and_keeps_its_articles(self) -> None:
        self.server.route("/bad", b"", status=410)

        victim, result = self.round_with(self.server.url("/bad"))

        self.assertEqual(result.status, Status.GONE)
        self.assertFalse(victim.is_active)
        self.assertEqual(
            victim.last_error,
            "HTTP 410 Gone: the publisher removed this feed, so the source was deactivated",
        )
        self.assertIsNone(victim.next_fetch_at)  # never polled again
        self.assertEqual(victim.articles.count(), 1)

    def test_a_429_with_retry_after_in_seconds(self) -> None:
        self.server.route("/bad", status=429, headers={"Retry-After": "5400"})

        victim = self.assert_fails_cleanly("/bad", "HTTP 429 (rate limited by the server)")

        self.assertEqual(victim.next_fetch_at, NOW + dt.timedelta(minutes=90))

    def test_a_429_with_retry_after_as_an_http_date(self) -> None:
        later = email.utils.format_datetime(NOW + dt.timedelta(hours=3), usegmt=True)
        self.server.route("/bad", status=429, headers={"Retry-After": later})

        victim = self.assert_fails_cleanly("/bad", "HTTP 429 (rate limited by the server)")

        self.assertEqual(victim.next_fetch_at, NOW + dt.timedelta(hours=3))

    def test_a_private_address(self) -> None:
        # Only the test server's own address counts as public here, so the healthy
        # source on 127.0.0.1 is fetched while a private address is refused.
        with (
            override_settings(DAYBRIEF_ALLOW_PRIVATE_FEEDS=False),
            mock.patch.object(feed_http, "_is_public", lambda address: address == "127.0.0.1"),
        ):
            self.assert_fails_cleanly(
                "", "refused: 10.1.2.3 is a private address", url="http://10.1.2.3/feed"
            )


@time_machine.travel(NOW, tick=False)
class DifficultFeedTests(TestCase):
    """Inputs that are not errors: they must be stored correctly and safely."""

    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())

    def fetch(self, body: bytes, content_type: str = RSS_HEADERS["Content-Type"]) -> SourceResult:
        self.server.route("/feed", body, headers={"Content-Type": content_type})
        self.source = make_source(feed_url=self.server.url("/feed"))
        return fetch_sources([self.source.pk], FAST).results[0]

    def test_a_feed_with_50000_items_stores_the_first_200_quickly(self) -> None:
        body = rss("".join(item(n) for n in range(50_000)))

        result = self.fetch(body)

        self.assertEqual((result.status, result.new), (Status.OK, 200))
        self.assertEqual(
            set(Article.objects.values_list("identity", flat=True)),
            {f"wire-{n}" for n in range(200)},
        )

    def test_cp1252_bytes_labelled_utf8_are_read_as_cp1252(self) -> None:
        title = "Café “quoted” – 5"
        body = rss(
            f"<item><guid>1</guid><title>{title}</title></item>",
            prolog='<?xml version="1.0" encoding="utf-8"?>',
        )

        self.fetch(body.decode().encode("cp1252"), "application/rss+xml; charset=utf-8")

        self.assertEqual(Article.objects.get().title, title)

    def test_iso_8859_1_feeds_are_decoded(self) -> None:
        body = rss(
            "<item><guid>1</guid><title>Café naïve</title></item>",
            prolog='<?xml version="1.0" encoding="iso-8859-1"?>',
        )

        self.fetch(body.decode().encode("latin-1"), "text/xml")

        self.assertEqual(Article.objects.get().title, "Café naïve")

    def test_utf8_bytes_labelled_iso_8859_1_are_read_as_utf8(self) -> None:
        body = rss(
            "<item><guid>1</guid><title>Café “quoted”</title></item>",
            prolog='<?xml version="1.0" encoding="iso-8859-1"?>',
        )

        self.fetch(body, "text/xml; charset=iso-8859-1")

        self.assertEqual(Article.objects.get().title, "Café “quoted”")

    def test_koi8_r_without_any_declaration_is_detected(self) -> None:
        self.fetch(rss(RUSSIAN_ITEMS).decode().encode("koi8-r"), "application/rss+xml")

        self.assert_russian_stored()

    def test_cp1251_without_any_declaration_is_detected(self) -> None:
        self.fetch(rss(RUSSIAN_ITEMS).decode().encode("cp1251"), "text/xml")

        self.assert_russian_stored()

    def test_cp1251_labelled_utf8_is_detected(self) -> None:
        body = rss(RUSSIAN_ITEMS, prolog='<?xml version="1.0" encoding="utf-8"?>')

        self.fetch(body.decode().encode("cp1251"), "application/rss+xml; charset=utf-8")

        self.assert_russian_stored()

    def test_koi8_r_labelled_windows_1251_is_detected(self) -> None:
        body = rss(RUSSIAN_ITEMS, prolog='<?xml version="1.0" encoding="windows-1251"?>')

        self.fetch(body.decode().encode("koi8-r"), "application/rss+xml; charset=windows-1251")

        self.assert_russian_stored()

    def test_iso_8859_1_without_any_declaration_is_decoded(self) -> None:
        title = "Ações da Petrobras sobem após anúncio"
        description = "O preço médio do diesel caiu; a companhia não comentou às 18h."
        items = f"<item><guid>1</guid><title>{title}</title><description>{description}"
        items += "</description></item>"

        self.fetch(rss(items).decode().encode("latin-1"), "application/rss+xml")

        article = Article.objects.get()
        self.assertEqual((article.title, article.summary_html), (title, description))

    def assert_russian_stored(self) -> None:
        stored = dict(Article.objects.values_list("identity", "title"))
        self.assertEqual(stored, {f"ru-{n}": title for n, (title, _) in enumerate(RUSSIAN)})
        self.assertIn("Министр экономики", Article.objects.get(identity="ru-0").text)

    def test_an_xxe_payload_reads_no_local_file(self) -> None:
        with TemporaryDirectory() as tmp:
            secret = Path(tmp, "secret.txt")
            secret.write_text("TOP-SECRET-VALUE")
            doctype = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
            body = rss(item(1, title="&xxe;"), prolog='<?xml version="1.0"?>' + doctype)

            self.fetch(body)

        stored = " ".join(Article.objects.values_list("title", flat=True))
        self.assertNotIn("TOP-SECRET-VALUE", stored)
        self.source.refresh_from_db()
        self.assertNotIn("TOP-SECRET-VALUE", self.source.last_error)

    def test_a_billion_laughs_payload_is_not_expanded(self) -> None:
        entities = ['<!ENTITY lol "lol">'] + [
            f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
            for n in range(1, 10)
        ]
        doctype = f"<!DOCTYPE rss [{''.join(entities)}]>"
        body = rss(item(1, title="&lol9;"), prolog='<?xml version="1.0"?>' + doctype)

        self.fetch(body)

        longest = max((len(t) for t in Article.objects.values_list("title", flat=True)), default=0)
        self.assertLess(longest, 1000)  # 10**9 "lol"s were never built
        self.source.refresh_from_db()
        self.assertEqual(self.source.consecutive_errors, 0)

    def test_hostile_markup_and_links_are_made_safe(self) -> None:
        hostile = (
            "<description><![CDATA[<p onclick='steal()' onmouseover='x()'>Read "
            "<a href='javascript:alert(1)'>this</a></p><script>alert(1)</script>"
            "<form action='https://evil.example/'><input name='password'></form>]]>"
            "</description>"
        )
        body = rss(
            "<item><guid>h1</guid><title>Hostile</title><link>javascript:alert(1)</link>"
            f"{hostile}</item>"
        )

        self.fetch(body)

        article = Article.objects.get()
        self.assertEqual(article.url, "")
        for fragment in ("<script", "alert", "<form", "<input", "onclick", "onmouseover"):
            self.assertNotIn(fragment, article.summary_html)

    def test_sparse_entries_duplicate_guids_and_future_dates_are_handled(self) -> None:
        body = rss(
            "<item><description>Only a description.</description></item>"
            + item(1)
            + item(1)  # the same GUID twice in one document
            + "<item><guid>f</guid><title>From the future</title>"
            "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
        )

        result = self.fetch(body)

        self.assertEqual(result.new, 3)
        self.assertEqual(Article.objects.filter(identity="wire-1").count(), 1)
        sparse = Article.objects.get(title="Only a description.")
        self.assertEqual(sparse.published_at, NOW)  # first-seen time stands in
        self.assertEqual(Article.objects.get(identity="f").published_at, NOW)
