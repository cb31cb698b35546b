"""The fetch_sources management command."""

import datetime as dt
from io import StringIO

import time_machine
from django.core.management import CommandError, call_command
from django.test import TestCase

from tests.factories import make_source
from tests.feedserver import FeedServer
from topics.models import Article

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><guid>w1</guid><title>One</title><link>https://wire.example/1</link></item>
<item><guid>w2</guid><title>Two</title><link>https://wire.example/2</link></item>
</channel></rss>"""


@time_machine.travel(NOW, tick=False)
class FetchSourcesCommandTests(TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(FeedServer())
        self.server.route("/rss", RSS, headers={"Content-Type": "application/rss+xml"})
        self.server.route("/missing", b"", status=404)
        self.wire = make_source(name="Wire", feed_url=self.server.url("/rss"))
        self.dead = make_source(name="Dead", feed_url=self.server.url("/missing"))

    def run_command(self, *args: str) -> list[str]:
        out = StringIO()
        call_command("fetch_sources", *args, stdout=out)
        return out.getvalue().splitlines()

    def test_due_sources_are_fetched_with_a_line_each_and_totals(self) -> None:
        lines = self.run_command()

        self.assertEqual(
            lines,
            [
                f"Dead (#{self.dead.pk}): failed: HTTP 404 (not found)",
                f"Wire (#{self.wire.pk}): 2 new, 0 updated",
                "2 sources: 1 fetched, 1 failed, 2 new articles",
            ],
        )
        self.assertEqual(Article.objects.count(), 2)

    def test_sources_that_are_not_due_are_skipped_unless_all_is_given(self) -> None:
        self.run_command()

        self.assertEqual(self.run_command(), ["0 sources: 0 fetched, 0 failed, 0 new articles"])
        lines = self.run_command("--all")
        self.assertIn(f"Wire (#{self.wire.pk}): not modified", lines)
        self.assertEqual(lines[-1], "2 sources: 1 fetched, 1 failed, 0 new articles")

    def test_one_source_can_be_fetched_by_id(self) -> None:
        lines = self.run_command("--source", str(self.wire.pk))

        self.assertEqual(lines[0], f"Wire (#{self.wire.pk}): 2 new, 0 updated")
        self.assertEqual(self.server.requests_for("/missing"), [])

    def test_an_unknown_source_id_is_an_error(self) -> None:
        with self.assertRaisesMessage(CommandError, "There is no source with id 999999."):
            self.run_command("--source", "999999")
