"""Two `qcluster` processes on one PostgreSQL and one Redis, as on two worker hosts.

A fetch round, a clustering run and a digest send are enqueued twice over, so both
clusters take part and every task meets its double. The ledgers (unique articles, one
topic per story, one delivery per reader, the SMTP server's inbox) must show nothing done
twice and nothing lost.
"""

import os
import queue
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.test import SimpleTestCase
from django.utils import timezone

from tests.feedserver import FeedServer
from tests.postgres import throwaway_postgres_database
from tests.smtpserver import running_smtp_server
from tests.test_end_to_end import OUTLETS, rss

READERS = 12
STORIES = 3  # tests/test_end_to_end.py: harbour, battery, essay
ARTICLES = sum(len(items) for items in OUTLETS.values())

# What the "operator's shell" runs: code blocks from stdin, each ended by RUN, answered by
# DONE or FAILED. One Django start-up for the whole test instead of one per step (each
# took 8-17 s on the loaded 2-core machine: most of the test's time).
RUN, DONE, FAILED = "#--run--", "#--done--", "#--failed--"
DRIVER = f"""
import sys, traceback
block = []
for line in sys.stdin:
    if line.rstrip() != {RUN!r}:
        block.append(line)
        continue
    try:
        exec("".join(block), {{}})
        print({DONE!r}, flush=True)
    except BaseException:
        traceback.print_exc(file=sys.stdout)
        print({FAILED!r}, flush=True)
    block = []
"""


class Cluster:
    """One `manage.py` process (a `qcluster`, or the shell) whose output is read as it comes."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        lines: "queue.Queue[tuple[str, str]]",
        command: tuple[str, ...] = ("qcluster",),
    ):
        self.name = name
        self.output: list[str] = []
        self.process = subprocess.Popen(
            manage(*command),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines = lines
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self._lines.put((self.name, line))

    def count(self, pattern: str) -> int:
        return sum(1 for line in self.output if re.search(pattern, line))

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def manage(*args: str) -> list[str]:
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]


@pytest.mark.slow
class TwoClustersTests(SimpleTestCase):
    def setUp(self) -> None:
        engine = settings.DATABASES["default"]["ENGINE"]
        if "postgresql" not in engine or not settings.REDIS_URL:
            self.skipTest("runs when the suite runs on PostgreSQL with REDIS_URL set (CI does)")
        server_url = os.environ["DATABASE_URL"]
        database = throwaway_postgres_database(server_url, "daybrief_workers")
        self.database_url = self.enterContext(database)
        self.smtp = self.enterContext(running_smtp_server())
        self.feeds = self.enterContext(FeedServer())
        now = timezone.now()
        for outlet in OUTLETS:
            self.feeds.route(
                f"/{outlet}.xml", rss(outlet, now), headers={"Content-Type": "application/rss+xml"}
            )
        self.env = self.environment(self.enterContext(tempfile.TemporaryDirectory()))
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.clusters: list[Cluster] = []
        self.shell_lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.operator = Cluster("shell", self.env, self.shell_lines, ("shell", "-c", DRIVER))
        self.addCleanup(self.operator.stop)

    def environment(self, var_dir: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAYBRIEF_", "Q_"))}
        for name in ("EMAIL_URL", "EMAIL_HOST", "SITE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE="newsletter.settings",
            PYTHONUNBUFFERED="1",
            DEBUG="1",
            SECRET_KEY=secrets.token_urlsafe(50),  # one key for both "hosts"
            DATABASE_URL=self.database_url,
            REDIS_URL=settings.REDIS_URL,
            # Its own queue name, so no other Daybrief on this Redis takes our tasks.
            Q_CLUSTER_NAME=f"daybrief-test-{secrets.token_hex(4)}",
            Q_WORKERS="2",
            DAYBRIEF_VAR_DIR=var_dir,
            DAYBRIEF_ALLOW_PRIVATE_FEEDS="1",
            DAYBRIEF_DEMO="0",
            EMAIL_URL=f"smtp://{self.smtp.host}:{self.smtp.port}",
            # Small batches, so the send is shared between the clusters' workers.
            DAYBRIEF_SEND_BATCH="2",
        )
        return env

    def shell(self, code: str, timeout: float = 180) -> None:
        """Run `code` in the operator's shell on the clusters' database, and wait for it."""
        stdin = self.operator.process.stdin
        assert stdin is not None
        stdin.write(f"{code}\n{RUN}\n")
        stdin.flush()
        start = len(self.operator.output)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                _, line = self.shell_lines.get(timeout=max(remaining, 0))
            except queue.Empty:
                self.fail(f"the shell did not finish in {timeout} s:\n{self.operator.output}")
            if line.rstrip() == FAILED:
                self.fail("".join(self.operator.output[start:]))
            if line.rstrip() == DONE:
                return

    def start_clusters(self) -> None:
        """Start both clusters; wait_for(r"guarding cluster", 2) tells when they are up."""
        for name in ("host-a", "host-b"):
            cluster = Cluster(name, self.env, self.lines)
            self.addCleanup(cluster.stop)
            self.clusters.append(cluster)

    def wait_for(self, pattern: str, count: int, timeout: float = 60) -> None:
        """Read log lines until `count` in all match `pattern` (no polling, no sleep)."""
        seen = sum(cluster.count(pattern) for cluster in self.clusters)
        deadline = time.monotonic() + timeout
        while seen < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail(f"waited for {count}× {pattern!r}, saw {seen}:\n{self.logs()}")
            try:
                _, line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.assertNotIn("Failed '", line, self.logs())
            seen += bool(re.search(pattern, line))

    def logs(self) -> str:
        return "\n".join(f"--- {c.name}\n{''.join(c.output[-40:])}" for c in self.clusters)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.database_url) as db:
            return db.execute(sql).fetchall()

    def test_two_clusters_share_fetching_clustering_and_sending_without_doing_anything_twice(
        self,
    ) -> None:
        self.shell(
            "from django.core.management import call_command\ncall_command('migrate', verbosity=0)"
        )
        # The clusters start while the shell adds the newsroom; no task is queued before both run.
        self.start_clusters()
        urls = [self.feeds.url(f"/{outlet}.xml") for outlet in OUTLETS]
        self.shell(
            "from topics.models import Source\n"
            "from newsletter.models import Subscriber\n"
            f"for n, url in enumerate({urls!r}):\n"
            "    Source.objects.create(name=f'Outlet {n}', feed_url=url)\n"
            f"for n in range({READERS}):\n"
            "    Subscriber.objects.create(email=f'reader{n}@example.com', status='confirmed')\n"
        )
        self.wait_for(r"guarding cluster", 2)

        # A fetch round, twice over: every source fetched by two tasks.
        self.shell(
            "from django_q.tasks import async_task\n"
            "from topics.models import Source\n"
            "for _ in range(2):\n"
            "    for pk in Source.objects.values_list('pk', flat=True):\n"
            "        async_task('topics.fetching.fetch_source', pk)\n"
        )
        # Only the test's own tasks are counted: the clusters' schedules (a fetch round at
        # start-up, due sends every minute) run beside them, as in production.
        self.wait_for(r"Processed 'topics.fetching.fetch_source'", 2 * len(OUTLETS))

        # Clustering, twice at once.
        self.shell(
            "from django_q.tasks import async_task\n"
            "for _ in range(2):\n"
            "    async_task('topics.tasks.refresh_topics')\n"
        )
        self.wait_for(r"Processed 'topics.tasks.refresh_topics'", 2)

        # The digest, built twice and sent by four tasks.
        self.shell(
            "from django.utils import timezone\n"
            "from django_q.tasks import async_task\n"
            "from newsletter.digests import build_digest\n"
            "day = timezone.localdate()\n"
            "digest = build_digest(day)\n"
            "assert build_digest(day).pk == digest.pk\n"
            "for _ in range(4):\n"
            "    async_task('newsletter.sending.send_digest', digest.pk)\n"
        )
        self.wait_for(r"Processed 'newsletter.sending.send_digest'", 4)

        # Both "hosts" did some of the work.
        for cluster in self.clusters:
            self.assertGreater(cluster.count(r" processing "), 0, self.logs())
        self.assertEqual(self.query("SELECT count(*) FROM django_q_task WHERE NOT success"), [(0,)])

        # Fetching: every article stored once.
        self.assertEqual(self.query("SELECT count(*) FROM topics_article"), [(ARTICLES,)])
        # Clustering: every article placed, one topic per story, no empty extras.
        self.assertEqual(
            self.query("SELECT count(*) FROM topics_article WHERE topic_id IS NULL"), [(0,)]
        )
        topics_with_articles = self.query(
            "SELECT count(DISTINCT topic_id) FROM topics_article WHERE topic_id IS NOT NULL"
        )
        self.assertEqual(topics_with_articles, [(STORIES,)])
        # Sending: one digest, one delivery per reader, each sent once, each email once.
        self.assertEqual(self.query("SELECT count(*) FROM newsletter_digest"), [(1,)])
        statuses = self.query("SELECT status, count(*) FROM newsletter_delivery GROUP BY status")
        self.assertEqual(statuses, [("sent", READERS)])
        recipients = sorted(address for m in self.smtp.messages for address in m.rcpt_tos)
        self.assertEqual(recipients, sorted(f"reader{n}@example.com" for n in range(READERS)))
