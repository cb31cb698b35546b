"""Redirects, 410 and politeness towards hosts, against a local HTTP server."""

import datetime as dt
import threading
from unittest import mock

import httpx
import time_machine
from django.test import TestCase

from tests.factories import make_article, make_source
from tests.feedserver import FeedServer
from topics import fetching
from topics.feed_http import Download, Limits
from topics.fetching import Status, fetch_source, fetch_sources

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
# Generous for a loaded CI machine.
FAST = Limits(connect=2.0, total=10.0, read=3.0)
RSS_HEADERS = {"Content-Type": "application/rss+xml"}
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<link>https://wire.example/</link>
<item><guid>wire-1</guid><title>Rates held</title><link>https://wire.example/1</link></item>
</channel></rss>"""


@time_machine.travel(NOW, tick=False)
class RedirectTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())
        self.server.route("/new", RSS, headers=RSS_HEADERS)

    def fetch_times(self, source, times: int):
        for _ in range(times):
            result = fetch_source(source.pk, FAST)
            self.assertIn(result.status, (Status.OK, Status.NOT_MODIFIED))
        source.refresh_from_db()
        return source

    def test_a_301_seen_on_three_fetches_in_a_row_becomes_the_feed_url(self) -> None:
        self.server.route("/old", status=301, headers={"Location": "/new"})
        source = make_source(feed_url=self.server.url("/old"))

        self.fetch_times(source, 2)
        self.assertEqual(source.feed_url, self.server.url("/old"))
        self.assertEqual(
            (source.redirect_target, source.redirect_count), (self.server.url("/new"), 2)
        )

        self.fetch_times(source, 1)
        self.assertEqual(source.feed_url, self.server.url("/new"))
        self.assertEqual(source.feed_url_aliases, [self.server.url("/old")])
        self.assertEqual((source.redirect_target, source.redirect_count), ("", 0))

    def test_a_308_is_permanent_too(self) -> None:
        self.server.route("/old", status=308, headers={"Location": "/new"})
        source = make_source(feed_url=self.server.url("/old"))

        self.fetch_times(source, 3)

        self.assertEqual(source.feed_url, self.server.url("/new"))

    def test_302_and_307_never_move_the_feed(self) -> None:
        for status in (302, 307):
            with self.subTest(status=status):
                self.server.route(f"/temp{status}", status=status, headers={"Location": "/new"})
                source = make_source(feed_url=self.server.url(f"/temp{status}"))

                self.fetch_times(source, 4)

                self.assertEqual(source.feed_url, self.server.url(f"/temp{status}"))
                self.assertEqual((source.redirect_count, source.feed_url_aliases), (0, []))

    def test_a_chain_with_a_temporary_hop_is_not_a_permanent_move(self) -> None:
        self.server.route("/old", status=301, headers={"Location": "/hop"})
        self.server.route("/hop", status=302, headers={"Location": "/new"})
        source = make_source(feed_url=self.server.url("/old"))

        self.fetch_times(source, 4)

        self.assertEqual(source.feed_url, self.server.url("/old"))

    def test_the_count_starts_again_when_the_feed_answers_directly(self) -> None:
        self.server.route("/old", status=301, headers={"Location": "/new"})
        source = make_source(feed_url=self.server.url("/old"))
        self.fetch_times(source, 2)
        self.server.route("/old", RSS, headers=RSS_HEADERS)

        self.fetch_times(source, 1)

        self.assertEqual((source.redirect_target, source.redirect_count), ("", 0))

    def test_a_move_onto_another_sources_feed_is_not_made(self) -> None:
        self.server.route("/old", status=301, headers={"Location": "/new"})
        make_source(feed_url=self.server.url("/new"))
        source = make_source(feed_url=self.server.url("/old"))

        self.fetch_times(source, 4)

        self.assertEqual(source.feed_url, self.server.url("/old"))
        self.assertEqual(source.redirect_count, 4)

    def test_articles_are_not_duplicated_when_the_feed_moves(self) -> None:
        self.server.route("/old", status=301, headers={"Location": "/new"})
        source = make_source(feed_url=self.server.url("/old"))
        fetch_source(source.pk, FAST)
        self.server.route(
            "/new", RSS.replace(b"Rates held", b"Rates held still"), headers=RSS_HEADERS
        )

        self.fetch_times(source, 3)

        self.assertEqual(source.articles.count(), 1)

    def test_a_permanent_redirect_to_a_410_deactivates_the_source(self) -> None:
        self.server.route("/old", status=301, headers={"Location": "/gone"})
        self.server.route("/gone", status=410)
        source = make_source(feed_url=self.server.url("/old"))
        make_article(source)

        result = fetch_source(source.pk, FAST)

        source.refresh_from_db()
        self.assertEqual(result.status, Status.GONE)
        self.assertFalse(source.is_active)
        self.assertIn("410 Gone", source.last_error)
        self.assertEqual(source.articles.count(), 1)


@time_machine.travel(NOW, tick=False)
class HostPolitenessTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())
        self.server.route("/rss", RSS, headers=RSS_HEADERS)
        self.server.route("/busy", status=429, headers={"Retry-After": "1800"})
        # One server, two hosts: 127.0.0.1:port and localhost:port.
        self.other_host = self.server.base_url.replace("127.0.0.1", "localhost")

    def test_a_429_holds_back_every_source_on_the_same_host(self) -> None:
        busy = make_source(feed_url=self.server.url("/busy"))
        neighbour = make_source(feed_url=self.server.url("/rss?a"), next_fetch_at=NOW)
        later = make_source(
            feed_url=self.server.url("/rss?b"), next_fetch_at=NOW + dt.timedelta(hours=2)
        )
        elsewhere = make_source(feed_url=self.other_host + "/rss", next_fetch_at=NOW)

        fetch_source(busy.pk, FAST)

        for source in (busy, neighbour, later, elsewhere):
            source.refresh_from_db()
        self.assertEqual(busy.next_fetch_at, NOW + dt.timedelta(minutes=30))
        self.assertEqual(neighbour.next_fetch_at, NOW + dt.timedelta(minutes=30))
        self.assertEqual(later.next_fetch_at, NOW + dt.timedelta(hours=2))  # already later
        self.assertEqual(elsewhere.next_fetch_at, NOW)  # another host is not affected

    def test_a_503_without_retry_after_holds_the_host_back_an_hour(self) -> None:
        self.server.route("/down", status=503)
        down = make_source(feed_url=self.server.url("/down"))
        neighbour = make_source(feed_url=self.server.url("/rss"), next_fetch_at=NOW)

        fetch_source(down.pk, FAST)

        neighbour.refresh_from_db()
        self.assertEqual(neighbour.next_fetch_at, NOW + dt.timedelta(hours=1))

    def test_in_a_round_a_429_defers_the_hosts_sources_not_yet_started(self) -> None:
        busy = make_source(name="A busy", feed_url=self.server.url("/busy"))
        started = make_source(name="B started", feed_url=self.server.url("/rss?1"))
        held = make_source(name="C held", feed_url=self.server.url("/rss?2"))
        elsewhere = make_source(name="D elsewhere", feed_url=self.other_host + "/rss")

        # One thread, two downloads in hand: "busy" and "started" go out before the 429
        # is seen; "held" is still waiting then.
        with mock.patch.object(fetching, "PER_HOST_DOWNLOADS", 2):
            result = fetch_sources([busy.pk, started.pk, held.pk, elsewhere.pk], FAST, workers=1)

        statuses = {r.name: r.status for r in result.results}
        self.assertEqual(
            statuses,
            {
                "A busy": Status.FAILED,
                "B started": Status.OK,
                "C held": Status.DEFERRED,
                "D elsewhere": Status.OK,
            },
        )
        self.assertEqual((result.fetched, result.failed), (2, 1))
        self.assertEqual(len(self.server.requests_for("/rss")), 2)  # "held" never asked
        held.refresh_from_db()
        self.assertEqual(held.next_fetch_at, NOW + dt.timedelta(minutes=30))
        self.assertEqual((held.consecutive_errors, held.last_error), (0, ""))

    def test_at_most_two_downloads_run_against_one_host(self) -> None:
        sources = [make_source(feed_url=f"https://a.example/{n}.xml") for n in range(4)]
        sources.append(make_source(feed_url="https://b.example/feed.xml"))
        active = {"a.example": 0}
        peak = {"a.example": 0}
        lock = threading.Lock()
        other_host_ran = threading.Event()

        def fake_download(request, limits):
            if "b.example" in request.url:
                with lock:
                    peak["while b ran"] = active["a.example"]
                other_host_ran.set()
            else:
                with lock:
                    active["a.example"] += 1
                    peak["a.example"] = max(peak["a.example"], active["a.example"])
                # Without the per-host limit all four threads would sit here and the
                # other host's download would never start: the wait would time out.
                other_host_ran.wait(timeout=5)
                with lock:
                    active["a.example"] -= 1
            return Download(304, request.url, httpx.Headers())

        with mock.patch.object(fetching, "_try_download", side_effect=fake_download):
            result = fetch_sources([s.pk for s in sources], FAST, workers=4)

        self.assertEqual(result.fetched, 5)
        self.assertEqual(peak, {"a.example": 2, "while b ran": 2})
