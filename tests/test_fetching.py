"""Fetching sources over HTTP (a local server) and recording their health."""

import datetime as dt
import gzip
import itertools
import socket
import zlib
from types import SimpleNamespace
from unittest import mock

import httpx
import time_machine
from django.test import SimpleTestCase, TestCase, override_settings

from tests.factories import make_source
from tests.feedserver import FeedServer, Request, Response
from topics import feed_http, fetching, ingestion
from topics.feed_http import Limits, check_destination, retry_after
from topics.fetching import (
    Status,
    backoff_interval,
    fetch_due_sources,
    fetch_source,
    fetch_sources,
)
from topics.models import Article

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
INTERVAL = dt.timedelta(minutes=15)  # DAYBRIEF_FETCH_MINUTES
# Generous for a loaded CI machine; only the stall tests use a short read timeout.
FAST = Limits(connect=2.0, total=10.0, read=3.0)
STALL = Limits(connect=2.0, total=10.0, read=0.2)
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}

RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link>
<item><guid>wire-1</guid><title>Rates held</title><link>/news/rates</link>
<pubDate>Mon, 02 Mar 2026 08:00:00 GMT</pubDate><description>Steady.</description></item>
<item><guid>wire-2</guid><title>Oil slips</title><link>https://wire.example/news/oil</link>
<pubDate>Mon, 02 Mar 2026 07:00:00 GMT</pubDate></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab</title>
<entry><id>urn:lab:1</id><title>New chip</title><link href="https://lab.example/chip"/>
<updated>2026-03-01T10:00:00Z</updated>
<content type="html">&lt;p&gt;Fast.&lt;/p&gt;</content></entry>
</feed>"""


@time_machine.travel(NOW, tick=False)
class FetchSourceTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())

    def source_for(self, path: str, **fields: object):
        return make_source(feed_url=self.server.url(path), **fields)

    def fetch(self, source, limits: Limits = FAST):
        result = fetch_source(source.pk, limits)
        source.refresh_from_db()
        return result

    def test_an_rss_feed_is_fetched_stored_and_the_source_marked_healthy(self) -> None:
        self.server.route("/rss", RSS, headers=RSS_HEADERS)
        source = self.source_for("/rss", consecutive_errors=2, last_error="HTTP 500")

        result = self.fetch(source)

        self.assertEqual((result.status, result.http_status, result.new), (Status.OK, 200, 2))
        self.assertEqual(
            set(Article.objects.values_list("url", flat=True)),
            {"https://wire.example/news/rates", "https://wire.example/news/oil"},
        )
        self.assertEqual(source.last_fetched_at, NOW)
        self.assertEqual(source.last_status, 200)
        self.assertEqual((source.consecutive_errors, source.last_error), (0, ""))
        # Two entries in the last 2.5 hours: polled every 1.25 hours (±10 % jitter).
        self.assertAlmostEqual(
            (source.next_fetch_at - NOW) / dt.timedelta(hours=1.25), 1, delta=0.1
        )
        request = self.server.requests_for("/rss")[0]
        self.assertTrue(request.headers["user-agent"].startswith("Daybrief/"))
        self.assertIn("gzip", request.headers["accept-encoding"])

    def test_an_atom_feed_is_fetched_and_stored(self) -> None:
        self.server.route("/atom", ATOM, headers={"Content-Type": "application/atom+xml"})

        result = self.fetch(self.source_for("/atom"))

        self.assertEqual(result.new, 1)
        self.assertEqual(Article.objects.get().content_html, "<p>Fast.</p>")

    def test_a_gzipped_feed_is_inflated(self) -> None:
        headers = {**RSS_HEADERS, "Content-Encoding": "gzip"}
        self.server.route("/gz", gzip.compress(RSS), headers=headers)

        self.assertEqual(self.fetch(self.source_for("/gz")).new, 2)

    def test_a_raw_deflate_body_labelled_deflate_is_inflated(self) -> None:
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = packer.compress(RSS) + packer.flush()
        self.server.route("/deflate", body, headers={"Content-Encoding": "deflate"})

        self.assertEqual(self.fetch(self.source_for("/deflate")).new, 2)

    def test_refetching_an_unchanged_feed_adds_nothing(self) -> None:
        self.server.route("/rss", RSS, headers=RSS_HEADERS)
        source = self.source_for("/rss")
        self.fetch(source)

        result = self.fetch(source)

        # No validators from this server: the identical body hash is what says "unchanged".
        self.assertEqual(result.status, Status.NOT_MODIFIED)
        self.assertEqual(Article.objects.count(), 2)

    def test_a_changed_entry_is_updated_in_place_on_the_next_fetch(self) -> None:
        self.server.route("/rss", RSS, headers=RSS_HEADERS)
        source = self.source_for("/rss")
        self.fetch(source)
        self.server.route("/rss", RSS.replace(b"Rates held", b"Rates held again"))

        result = self.fetch(source)

        self.assertEqual((result.status, result.new, result.updated), (Status.OK, 0, 1))
        self.assertEqual(Article.objects.get(identity="wire-1").title, "Rates held again")
        self.assertEqual(Article.objects.count(), 2)

    def test_validators_are_sent_back_and_a_304_means_not_modified(self) -> None:
        validators = {"ETag": '"v1"', "Last-Modified": "Mon, 02 Mar 2026 08:00:00 GMT"}

        def conditional(request: Request) -> Response:
            if request.headers.get("if-none-match") == '"v1"':
                return Response(status=304, headers={"ETag": '"v1"'})
            return Response(RSS, headers={**RSS_HEADERS, **validators})

        self.server.route_handler("/rss", conditional)
        source = self.source_for("/rss")
        self.fetch(source)
        self.assertEqual((source.etag, source.last_modified), ('"v1"', validators["Last-Modified"]))

        result = self.fetch(source)

        self.assertEqual((result.status, result.http_status), (Status.NOT_MODIFIED, 304))
        second = self.server.requests_for("/rss")[1]
        self.assertEqual(second.headers["if-none-match"], '"v1"')
        self.assertEqual(second.headers["if-modified-since"], validators["Last-Modified"])
        self.assertEqual(source.last_status, 304)
        self.assertEqual(source.etag, '"v1"')  # kept: the 304 did not repeat Last-Modified
        self.assertEqual(source.last_modified, validators["Last-Modified"])
        self.assertEqual(Article.objects.count(), 2)

    def test_a_404_is_recorded_in_plain_words_and_retried_later(self) -> None:
        self.server.route("/missing", b"nope", status=404)
        source = self.source_for("/missing")

        result = self.fetch(source)

        self.assertEqual((result.status, result.error), (Status.FAILED, "HTTP 404 (not found)"))
        self.assertEqual((source.last_status, source.consecutive_errors), (404, 1))
        self.assertEqual(source.last_error, "HTTP 404 (not found)")
        self.assertEqual(source.next_fetch_at, NOW + INTERVAL)
        self.assertTrue(source.is_active)

    def test_repeated_failures_back_off(self) -> None:
        self.server.route("/missing", b"nope", status=500)
        source = self.source_for("/missing", consecutive_errors=5)

        self.fetch(source)

        self.assertEqual(source.consecutive_errors, 6)
        self.assertEqual(source.next_fetch_at, NOW + INTERVAL * 8)

    def test_a_410_deactivates_the_source_and_says_so(self) -> None:
        self.server.route("/gone", b"", status=410)
        source = self.source_for("/gone")

        result = self.fetch(source)

        self.assertEqual(result.status, Status.GONE)
        self.assertFalse(source.is_active)
        self.assertIn("deactivated", source.last_error)
        self.assertIsNone(source.next_fetch_at)

    def test_retry_after_on_429_pushes_the_next_fetch_back(self) -> None:
        self.server.route("/busy", b"", status=429, headers={"Retry-After": "7200"})
        source = self.source_for("/busy")

        self.fetch(source)

        self.assertEqual(source.last_error, "HTTP 429 (rate limited by the server)")
        self.assertEqual(source.next_fetch_at, NOW + dt.timedelta(hours=2))

    def test_a_server_that_never_answers_times_out(self) -> None:
        self.server.stall("/slow", before_headers=True)
        source = self.source_for("/slow")

        result = self.fetch(source, STALL)

        self.assertEqual(result.error, "timed out: no data for 0.2 s")
        self.assertEqual(source.consecutive_errors, 1)

    def test_a_body_that_stops_arriving_times_out(self) -> None:
        self.server.stall("/trickle", sent=RSS[:100], headers=RSS_HEADERS)

        result = self.fetch(self.source_for("/trickle"), STALL)

        self.assertEqual(result.error, "timed out: no data for 0.2 s")
        self.assertFalse(Article.objects.exists())

    def test_the_overall_deadline_ends_a_fetch(self) -> None:
        self.server.route("/rss", RSS, headers=RSS_HEADERS)

        result = self.fetch(self.source_for("/rss"), Limits(total=0.0))

        self.assertEqual(result.error, "timed out after 0 s")

    def test_the_overall_deadline_is_checked_while_the_body_streams(self) -> None:
        self.server.route("/rss", RSS, headers=RSS_HEADERS)
        # time-machine leaves the monotonic clock alone, so the fetcher's own clock is
        # replaced: the deadline is set at 0 s, the request goes out at 0 s, and the
        # first chunk of the body arrives "at" 100 s.
        clock = itertools.chain([0.0, 0.0], itertools.repeat(100.0))
        fake_time = SimpleNamespace(monotonic=lambda: next(clock))

        with mock.patch.object(feed_http, "time", fake_time):
            result = self.fetch(self.source_for("/rss"), Limits(total=20.0))

        self.assertEqual(result.error, "timed out after 20 s")
        self.assertEqual(len(self.server.requests_for("/rss")), 1)

    def test_an_html_page_instead_of_a_feed_is_an_error(self) -> None:
        page = b"<!doctype html><html><head><title>Welcome</title></head><body>Hi</body></html>"
        self.server.route("/page", page, headers={"Content-Type": "text/html"})
        source = self.source_for("/page")

        result = self.fetch(source)

        self.assertEqual(result.error, "not a feed (got an HTML page)")
        self.assertEqual((source.last_status, source.consecutive_errors), (200, 1))
        self.assertEqual(source.body_hash, "")  # so the next fetch parses it again

    def test_malformed_xml_is_an_error(self) -> None:
        self.server.route("/broken", b"<rss><channel><<item>", headers=RSS_HEADERS)

        result = self.fetch(self.source_for("/broken"))

        self.assertTrue(result.error.startswith("not a feed (malformed XML"), result.error)

    def test_an_oversize_body_is_refused(self) -> None:
        self.server.route("/big", RSS + b" " * 5000, headers=RSS_HEADERS)

        result = self.fetch(self.source_for("/big"), Limits(read=1.0, max_bytes=4096))

        self.assertEqual(result.error, "feed larger than 0.00390625 MiB")
        self.assertFalse(Article.objects.exists())

    def test_a_gzip_bomb_is_stopped_at_the_cap(self) -> None:
        bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))  # 20 KiB on the wire
        self.server.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})

        result = self.fetch(self.source_for("/bomb"), Limits(read=1.0, max_bytes=1024 * 1024))

        self.assertEqual(result.error, "feed larger than 1 MiB")

    def test_an_unsupported_content_encoding_is_an_error(self) -> None:
        self.server.route("/br", b"\x00\x01", headers={"Content-Encoding": "br"})

        result = self.fetch(self.source_for("/br"))

        self.assertEqual(result.error, "unsupported content encoding 'br'")

    def test_redirects_are_followed_and_links_resolved_against_the_final_url(self) -> None:
        feed = RSS.replace(b"<link>https://wire.example/</link>", b"")
        self.server.route("/old", status=301, headers={"Location": "/new"})
        self.server.route("/new", feed, headers=RSS_HEADERS)

        result = self.fetch(self.source_for("/old"))

        self.assertEqual(result.new, 2)
        self.assertTrue(Article.objects.filter(url=self.server.url("/news/rates")).exists())

    def test_more_than_five_redirects_is_an_error(self) -> None:
        for hop in range(7):
            self.server.route(f"/r{hop}", status=302, headers={"Location": f"/r{hop + 1}"})

        result = self.fetch(self.source_for("/r0"))

        self.assertEqual(result.error, "too many redirects (more than 5)")

    def test_a_redirect_to_a_non_web_scheme_is_refused(self) -> None:
        self.server.route("/sneaky", status=302, headers={"Location": "file:///etc/passwd"})

        result = self.fetch(self.source_for("/sneaky"))

        self.assertIn("only http and https", result.error)

    @override_settings(DAYBRIEF_ALLOW_PRIVATE_FEEDS=False)
    def test_a_private_address_is_refused_unless_allowed(self) -> None:
        self.server.route("/rss", RSS, headers=RSS_HEADERS)

        result = self.fetch(self.source_for("/rss"))

        self.assertEqual(result.error, "refused: 127.0.0.1 is a private address")
        self.assertEqual(self.server.requests, [])  # refused before connecting

    @override_settings(DAYBRIEF_ALLOW_PRIVATE_FEEDS=False)
    def test_a_name_that_resolves_to_a_private_address_is_refused(self) -> None:
        self.server.route("/rss", RSS, headers=RSS_HEADERS)
        url = self.server.url("/rss").replace("127.0.0.1", "localhost")

        result = self.fetch(make_source(feed_url=url))

        self.assertRegex(result.error, r"^refused: localhost resolves to a private address \(")
        self.assertEqual(self.server.requests, [])

    def test_the_connection_goes_to_the_address_that_was_checked(self) -> None:
        self.server.route("/rss", RSS, headers=RSS_HEADERS)
        port = int(self.server.base_url.rsplit(":", 1)[1])
        answers = iter(["127.0.0.1", "203.0.113.9"])  # a rebinding resolver would flip
        real_getaddrinfo = socket.getaddrinfo

        def resolve(host, *args, **kwargs):
            if host != "rebind.example":  # the address literal we connect to
                return real_getaddrinfo(host, *args, **kwargs)
            return [(2, 1, 6, "", (next(answers), port))]

        with mock.patch.object(socket, "getaddrinfo", side_effect=resolve):
            result = self.fetch(make_source(feed_url=f"http://rebind.example:{port}/rss"))

        # One resolution, and the socket was opened to its answer: no second lookup.
        self.assertEqual((result.status, result.new), (Status.OK, 2))

    @override_settings(DAYBRIEF_ALLOW_PRIVATE_FEEDS=False)
    def test_a_name_rebound_to_a_private_address_at_connect_time_is_refused(self) -> None:
        self.server.route("/rss", RSS, headers=RSS_HEADERS)
        port = int(self.server.base_url.rsplit(":", 1)[1])

        def resolve(host, *args, **kwargs):
            return [(2, 1, 6, "", ("127.0.0.1", port))]

        with mock.patch.object(socket, "getaddrinfo", side_effect=resolve):
            result = self.fetch(make_source(feed_url=f"http://rebind.example:{port}/rss"))

        self.assertEqual(
            result.error, "refused: rebind.example resolves to a private address (127.0.0.1)"
        )
        self.assertEqual(self.server.requests, [])

    def test_an_unreachable_host_is_an_error(self) -> None:
        source = make_source(feed_url="http://127.0.0.1:9/feed.xml")  # discard port: closed

        result = fetch_source(source.pk, FAST)

        self.assertTrue(result.error.startswith("could not connect"), result.error)


@time_machine.travel(NOW, tick=False)
class FetchDueSourcesTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())
        self.server.route("/rss", RSS, headers=RSS_HEADERS)
        self.server.route("/atom", ATOM, headers={"Content-Type": "application/atom+xml"})
        self.server.route("/missing", b"", status=404)

    def test_a_round_fetches_due_sources_and_one_failure_does_not_stop_the_others(self) -> None:
        good = make_source(name="Good", feed_url=self.server.url("/rss"))
        bad = make_source(name="Bad", feed_url=self.server.url("/missing"))
        also_good = make_source(
            name="Also good", feed_url=self.server.url("/atom"), next_fetch_at=NOW
        )
        make_source(name="Paused", feed_url=self.server.url("/rss?p"), is_active=False)
        make_source(
            name="Not yet", feed_url=self.server.url("/rss?n"), next_fetch_at=NOW + INTERVAL
        )

        result = fetch_due_sources(NOW, FAST)

        self.assertEqual((result.fetched, result.new_articles, result.failed), (2, 3, 1))
        self.assertEqual([r.name for r in result.results], ["Also good", "Bad", "Good"])
        self.assertEqual(good.articles.count(), 2)
        self.assertEqual(also_good.articles.count(), 1)
        bad.refresh_from_db()
        self.assertEqual(bad.last_error, "HTTP 404 (not found)")

    def test_an_unexpected_error_in_one_source_is_recorded_and_the_round_goes_on(self) -> None:
        broken = make_source(name="Broken", feed_url=self.server.url("/rss"))
        fine = make_source(name="Fine", feed_url=self.server.url("/atom"))

        def ingest(source, *args):
            if source.pk == broken.pk:
                raise RuntimeError("boom")
            return ingestion.ingest_feed(source, *args)

        with mock.patch("topics.fetching.ingest_feed", side_effect=ingest):
            result = fetch_due_sources(NOW, FAST)

        self.assertEqual((result.fetched, result.failed), (1, 1))
        self.assertEqual(fine.articles.count(), 1)
        broken.refresh_from_db()
        self.assertEqual(broken.last_error, "unexpected error: RuntimeError: boom")
        self.assertEqual(broken.consecutive_errors, 1)

    def test_a_round_takes_the_longest_waiting_sources_first_up_to_the_batch_size(self) -> None:
        make_source(name="Recent", feed_url=self.server.url("/rss"), next_fetch_at=NOW)
        waiting = make_source(
            name="Waiting", feed_url=self.server.url("/atom"), next_fetch_at=NOW - INTERVAL
        )

        with mock.patch.object(fetching, "ROUND_BATCH", 1):
            result = fetch_due_sources(NOW, FAST)

        self.assertEqual([r.source_id for r in result.results], [waiting.pk])

    def test_a_round_with_more_sources_than_threads_fetches_them_all(self) -> None:
        sources = [make_source(feed_url=self.server.url(f"/rss?{n}")) for n in range(5)]

        result = fetch_sources([s.pk for s in sources], FAST, workers=1)

        self.assertEqual((result.fetched, result.new_articles), (5, 10))
        self.assertEqual(len(self.server.requests_for("/rss")), 5)

    def test_a_round_with_nothing_due_does_nothing(self) -> None:
        make_source(feed_url=self.server.url("/rss"), next_fetch_at=NOW + INTERVAL)

        result = fetch_due_sources(NOW, FAST)

        self.assertEqual((result.fetched, result.new_articles, result.failed), (0, 0, 0))
        self.assertEqual(self.server.requests, [])


class FetchPolicyTests(SimpleTestCase):
    def test_backoff_keeps_the_interval_for_three_errors_then_doubles_up_to_a_day(self) -> None:
        self.assertEqual(backoff_interval(0), INTERVAL)
        self.assertEqual(backoff_interval(3), INTERVAL)
        self.assertEqual(backoff_interval(4), INTERVAL * 2)
        self.assertEqual(backoff_interval(6), INTERVAL * 8)
        self.assertEqual(backoff_interval(50), dt.timedelta(hours=24))

    def test_retry_after_accepts_seconds_and_http_dates(self) -> None:
        def headers(value: str) -> httpx.Headers:
            return httpx.Headers({"Retry-After": value})

        self.assertEqual(retry_after(headers("120"), NOW), dt.timedelta(minutes=2))
        self.assertEqual(
            retry_after(headers("Mon, 02 Mar 2026 10:30:00 GMT"), NOW), dt.timedelta(hours=1)
        )
        self.assertEqual(retry_after(headers("9" * 30), NOW), dt.timedelta(days=7))
        self.assertIsNone(retry_after(headers("soon"), NOW))
        self.assertIsNone(retry_after(httpx.Headers(), NOW))

    @override_settings(DAYBRIEF_ALLOW_PRIVATE_FEEDS=False)
    def test_private_link_local_and_mapped_addresses_are_refused(self) -> None:
        for url in (
            "http://10.0.0.5/feed",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/feed",
            "http://[::ffff:192.168.0.1]/feed",
            "http://localhost/feed",
        ):
            with self.subTest(url=url), self.assertRaisesMessage(Exception, "refused"):
                check_destination(httpx.URL(url))

    @override_settings(DAYBRIEF_ALLOW_PRIVATE_FEEDS=False)
    def test_a_public_address_is_allowed(self) -> None:
        self.assertIsNone(check_destination(httpx.URL("http://93.184.215.14/feed")))
