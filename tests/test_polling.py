"""Adaptive polling: intervals from publishing frequency and server hints, and the
12-hour unconditional fetch."""

import datetime as dt

import httpx
import time_machine
from django.test import SimpleTestCase, TestCase

from tests.factories import make_source
from tests.feedserver import FeedServer, Request, Response
from topics.feed_http import Limits
from topics.fetching import Status, fetch_source
from topics.models import Article
from topics.polling import (
    JITTER,
    MAX_INTERVAL,
    MIN_INTERVAL,
    needs_unconditional_fetch,
    next_interval,
    publish_interval,
    server_floor,
)

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
FAST = Limits(connect=2.0, total=10.0, read=3.0)
RSS_HEADERS = {"Content-Type": "application/rss+xml"}


def headers(**values: str) -> httpx.Headers:
    return httpx.Headers({k.replace("_", "-"): v for k, v in values.items()})


def rss(count: int, every: dt.timedelta, ttl: str = "", title: str = "Story") -> bytes:
    items = "".join(
        f"<item><guid>g{n}</guid><title>{title} {n}</title>"
        f"<pubDate>{(NOW - every * n).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate></item>"
        for n in range(count)
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return f'<rss version="2.0"><channel><title>W</title>{ttl_tag}{items}</channel></rss>'.encode()


class IntervalTests(SimpleTestCase):
    def test_the_interval_is_the_average_gap_up_to_now(self) -> None:
        week = dt.timedelta(days=7)
        self.assertEqual(publish_interval(14, week), dt.timedelta(hours=12))
        self.assertEqual(publish_interval(48, dt.timedelta(days=1)), dt.timedelta(minutes=30))
        # A burst a week ago followed by silence is a slow feed, not a fast one.
        self.assertEqual(publish_interval(2, dt.timedelta(days=6)), MAX_INTERVAL)

    def test_the_interval_stays_between_five_minutes_and_a_day(self) -> None:
        self.assertEqual(publish_interval(0, dt.timedelta(0)), MAX_INTERVAL)  # a quiet feed
        self.assertEqual(publish_interval(50, dt.timedelta(0)), MIN_INTERVAL)  # all undated

    def test_ttl_cache_control_and_expires_set_a_floor(self) -> None:
        self.assertEqual(server_floor(headers(), NOW, dt.timedelta(minutes=90)), 1.5 * HOUR)
        self.assertEqual(server_floor(headers(cache_control="public, max-age=7200"), NOW), 2 * HOUR)
        later = "Mon, 02 Mar 2026 12:30:00 GMT"
        self.assertEqual(server_floor(headers(expires=later), NOW), 3 * HOUR)
        # The largest wins.
        self.assertEqual(server_floor(headers(expires=later), NOW, dt.timedelta(hours=4)), 4 * HOUR)

    def test_meaningless_cache_headers_set_no_floor(self) -> None:
        zero = dt.timedelta(0)
        self.assertEqual(server_floor(headers(cache_control="no-cache, max-age=9000"), NOW), zero)
        self.assertEqual(server_floor(headers(expires="0"), NOW), zero)
        self.assertEqual(server_floor(headers(expires="Sun, 01 Mar 2026 00:00:00 GMT"), NOW), zero)
        # max-age wins over Expires (RFC 9111 §5.3).
        both = headers(cache_control="max-age=60", expires="Mon, 02 Mar 2026 19:30:00 GMT")
        self.assertEqual(server_floor(both, NOW), dt.timedelta(minutes=1))

    def test_the_floor_lengthens_the_interval_but_never_beyond_a_day(self) -> None:
        self.assertAlmostEqual(next_interval(HOUR, 3 * HOUR, "k") / HOUR, 3, delta=0.3)
        self.assertLessEqual(next_interval(HOUR, 48 * HOUR, "k"), MAX_INTERVAL)
        self.assertGreaterEqual(next_interval(dt.timedelta(0), dt.timedelta(0), "k"), MIN_INTERVAL)

    def test_jitter_is_within_ten_percent_and_spreads_sources(self) -> None:
        intervals = {next_interval(10 * HOUR, dt.timedelta(0), f"source-{n}") for n in range(50)}

        self.assertTrue(all(9 * HOUR <= i <= 11 * HOUR for i in intervals))
        self.assertGreater(len(intervals), 40)  # not in lockstep
        self.assertEqual(
            next_interval(10 * HOUR, dt.timedelta(0), "same"),
            next_interval(10 * HOUR, dt.timedelta(0), "same"),
        )

    def test_an_unconditional_fetch_is_due_every_twelve_hours(self) -> None:
        self.assertTrue(needs_unconditional_fetch(None, NOW))
        self.assertFalse(needs_unconditional_fetch(NOW - 11 * HOUR, NOW))
        self.assertTrue(needs_unconditional_fetch(NOW - 12 * HOUR, NOW))


class AdaptivePollingTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())

    def fetch(self, body: bytes, extra: dict[str, str] | None = None):
        self.server.route("/feed", body, headers={**RSS_HEADERS, **(extra or {})})
        source = make_source(feed_url=self.server.url("/feed"))
        with time_machine.travel(NOW, tick=False):
            fetch_source(source.pk, FAST)
        source.refresh_from_db()
        return source

    def test_a_busy_feed_is_polled_often(self) -> None:
        # The last 50 entries, half an hour apart: the feed shows only its last day.
        source = self.fetch(rss(50, every=dt.timedelta(minutes=30)))

        self.assertAlmostEqual(source.publish_interval / dt.timedelta(minutes=30), 1, delta=0.05)
        self.assertLessEqual(source.next_fetch_at - NOW, dt.timedelta(minutes=33))

    def test_a_feed_publishing_twice_a_day_is_polled_about_twice_a_day(self) -> None:
        source = self.fetch(rss(20, every=12 * HOUR))  # 14 in the last week

        self.assertAlmostEqual(source.publish_interval / HOUR, 12, delta=1)
        # The jitter is drawn from the source's pk, which differs between databases and runs.
        wait = (source.next_fetch_at - NOW) / source.publish_interval
        self.assertTrue(1 - JITTER <= wait <= 1 + JITTER, wait)

    def test_the_feeds_ttl_lengthens_the_interval(self) -> None:
        source = self.fetch(rss(50, every=dt.timedelta(minutes=30), ttl="180"))

        self.assertEqual(source.feed_ttl, 3 * HOUR)
        self.assertGreaterEqual(source.next_fetch_at - NOW, 2.7 * HOUR)

    def test_cache_control_lengthens_the_interval(self) -> None:
        source = self.fetch(
            rss(50, every=dt.timedelta(minutes=30)), {"Cache-Control": "max-age=14400"}
        )

        self.assertGreaterEqual(source.next_fetch_at - NOW, 3.6 * HOUR)


class UnconditionalFetchTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())
        self.body = rss(2, every=HOUR)

        # A server whose ETag never changes, even when the feed does.
        def stuck_validators(request: Request) -> Response:
            if request.headers.get("if-none-match") == '"forever"':
                return Response(status=304)
            return Response(self.body, headers={**RSS_HEADERS, "ETag": '"forever"'})

        self.server.route_handler("/feed", stuck_validators)
        self.source = make_source(feed_url=self.server.url("/feed"))

    def fetch_at(self, when: dt.datetime):
        with time_machine.travel(when, tick=False):
            return fetch_source(self.source.pk, FAST)

    def sent_validators(self) -> list[bool]:
        return ["if-none-match" in r.headers for r in self.server.requests_for("/feed")]

    def test_validators_are_left_out_at_least_every_twelve_hours(self) -> None:
        self.fetch_at(NOW)
        self.body = rss(3, every=HOUR, title="Changed")

        early = self.fetch_at(NOW + HOUR)
        late = self.fetch_at(NOW + 13 * HOUR)

        self.assertEqual(self.sent_validators(), [False, True, False])
        self.assertEqual(early.status, Status.NOT_MODIFIED)  # the stuck ETag fooled us...
        # ...for 12 hours at most.
        self.assertEqual((late.status, late.new, late.updated), (Status.OK, 1, 2))
        self.assertTrue(Article.objects.filter(title="Changed 0").exists())

    def test_a_200_with_the_same_etag_is_not_modified(self) -> None:
        self.fetch_at(NOW)
        self.source.refresh_from_db()
        # A server that ignores If-None-Match but repeats the ETag.
        self.server.route(
            "/feed",
            rss(2, every=HOUR, title="Ignored"),
            headers={**RSS_HEADERS, "ETag": '"forever"'},
        )

        result = self.fetch_at(NOW + HOUR)

        self.assertEqual((result.status, result.http_status), (Status.NOT_MODIFIED, 200))
        self.assertFalse(Article.objects.filter(title__startswith="Ignored").exists())
