"""Exactly once, proven: SIGKILL a worker in the middle of a digest and check every inbox.

A few thousand readers, a real SMTP server (aiosmtpd) on loopback, and two django-q2
clusters (`manage.py qcluster`) sending the same digest from the same broker. While both
send, the worker process holding leased deliveries is killed with SIGKILL; its cluster's
sentinel starts a new worker, and the minutely "send what is due" task (queued here by
hand) reconciles the dead worker's leases and finishes the digest. Then every reader must
have exactly one message, and the ledger must agree with the server: each "sent" row was
received once, nobody received anything twice, and a reader without a message is one the
ledger marks "uncertain" (a message in flight when the worker died; see
../shared/reference/delivery-measurements.md).

It runs on SQLite with the ORM broker, and on PostgreSQL with the Redis broker when the
suite itself runs there (CI's second run).
"""

import contextlib
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings

from tests.postgres import throwaway_postgres_database
from tests.smtpserver import CollectingHandler, running_smtp_server

READERS = 2000
# Kill once this many messages have arrived: well inside the run.
KILL_AFTER = 400
DEADLINE_S = 120

pytestmark = [pytest.mark.slow]

# One Django process drives the site (starting Python and Django is the slow part of
# this test): it migrates, seeds the readers and builds the digest, then queues tasks
# when told to on stdin, as the admin and the schedule would.
DRIVER = """
import sys
import django
django.setup()
from django.core.management import call_command
from django.utils import timezone
from django_q.tasks import async_task
from newsletter.digests import build_digest
from newsletter.models import Subscriber, SubscriberStatus
from tests.factories import make_article, make_topic
call_command("migrate", verbosity=0)
article = make_article(title="Rates cut")
make_topic([article], headline="Rates cut", score=9, article_count=1, lead_article=article)
Subscriber.objects.bulk_create(
    Subscriber(email=f"reader{n}@example.com", status=SubscriberStatus.CONFIRMED)
    for n in range(int(sys.argv[-1]))
)
digest = build_digest(timezone.localdate())
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "send":
        async_task("newsletter.sending.send_digest", digest.pk)
        async_task("newsletter.sending.send_digest", digest.pk)
    elif line.strip() == "due":
        async_task("newsletter.sending.send_due_digests")
    print("queued", flush=True)
"""


class CountingHandler(CollectingHandler):
    """Keeps only the recipients (3,000 parsed digests would cost seconds), and says
    when enough have arrived."""

    def __init__(self, threshold: int) -> None:
        # With PIPELINING the next envelope rides with each final dot: the fast path.
        super().__init__(pipelining=True)
        self.recipients: list[str] = []
        self.enough = threading.Event()
        self.threshold = threshold

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.recipients.extend(envelope.rcpt_tos)
            if len(self.recipients) >= self.threshold:
                self.enough.set()
        return "250 Message accepted for delivery"


class Site:
    """A throwaway Daybrief installation: its environment, database and processes."""

    def __init__(self, var_dir: Path, smtp_port: int, services: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAYBRIEF_", "Q_"))}
        for name in ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "EMAIL_HOST", "SITE_URL"):
            env.pop(name, None)
        env.update(services)
        env.update(
            DJANGO_SETTINGS_MODULE="newsletter.settings",
            DAYBRIEF_VAR_DIR=str(var_dir),
            EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
            Q_CLUSTER_NAME=f"kill{secrets.token_hex(3)}",
            Q_WORKERS="1",
            # Production's number of connections per worker, which the check below reads.
            DAYBRIEF_SEND_CONNECTIONS=str(settings.DAYBRIEF_SEND_CONNECTIONS),
            # Small batches: the kill lands with a batch leased, as it would in production.
            DAYBRIEF_SEND_BATCH="50",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.database_url = services.get("DATABASE_URL", "")
        self.sqlite_path = var_dir / "daybrief.sqlite3"
        self.clusters: list[subprocess.Popen[bytes]] = []

    def start_driver(self) -> None:
        command = [sys.executable, "-c", DRIVER, str(READERS)]
        self.driver = subprocess.Popen(
            command,
            env=self.env,
            cwd=settings.BASE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.expect("ready")

    def tell(self, command: str) -> None:
        assert self.driver.stdin is not None
        self.driver.stdin.write(command + "\n")
        self.driver.stdin.flush()
        self.expect("queued")

    def expect(self, word: str) -> None:
        assert self.driver.stdout is not None
        line = self.driver.stdout.readline()
        assert line.strip() == word, f"driver said {line!r} (exit code {self.driver.poll()})"

    def stop_driver(self) -> None:
        if self.driver.stdin:
            self.driver.stdin.close()
        self.driver.wait(timeout=60)

    def start_cluster(self) -> None:
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]
        self.clusters.append(
            subprocess.Popen(
                command, env=self.env, start_new_session=True, stdout=subprocess.DEVNULL
            )
        )

    def stop_clusters(self) -> None:
        # Only qcluster itself: it stops its sentinel and workers in order. A SIGTERM to
        # the whole group interrupts that, and the cluster then hangs until the timeout.
        for cluster in self.clusters:
            if cluster.poll() is None:
                cluster.terminate()
        for cluster in self.clusters:
            with contextlib.suppress(subprocess.TimeoutExpired):
                cluster.wait(timeout=30)
            # Whatever of the group is still there (a hung stop, a stray worker) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.database_url:
            with psycopg.connect(self.database_url) as db:
                return list(db.execute(sql).fetchall())
        with sqlite3.connect(self.sqlite_path, timeout=30) as db:
            return list(db.execute(sql).fetchall())

    def ledger(self) -> dict[str, str]:
        rows = self.query(
            "SELECT s.email, d.status FROM newsletter_delivery d "
            "JOIN newsletter_subscriber s ON s.id = d.subscriber_id"
        )
        return dict(rows)

    def leased_pids(self) -> set[int]:
        rows = self.query(
            "SELECT DISTINCT lease_owner FROM newsletter_delivery WHERE lease_owner != ''"
        )
        return {int(owner.rpartition(":")[2]) for (owner,) in rows if owner}

    def digest_status(self) -> str:
        return self.query("SELECT status FROM newsletter_digest")[0][0]


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    # Another process's progress can only be observed by looking again.
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        threading.Event().wait(0.2)


def run_kill_test(services: dict[str, str]) -> None:
    handler = CountingHandler(threshold=KILL_AFTER)
    with (
        tempfile.TemporaryDirectory() as var_dir,
        running_smtp_server(handler=handler) as server,
    ):
        site = Site(Path(var_dir), server.port, services)
        site.start_driver()
        try:
            site.start_cluster()
            site.start_cluster()
            site.tell("send")
            assert handler.enough.wait(DEADLINE_S), "sending never got going"

            victims: set[int] = set()
            wait_until(lambda: victims.update(site.leased_pids()) or victims, "a leased batch")
            os.kill(sorted(victims)[0], signal.SIGKILL)
            killed_at = len(handler.recipients)

            # What the minutely schedule does: reconcile leases, send what is due.
            site.tell("due")
            wait_until(lambda: site.digest_status() == "sent", "the digest to finish")
        finally:
            site.stop_clusters()
            site.stop_driver()
        assert killed_at < READERS, "the worker was killed after the digest was sent"
        check_exactly_once(site.ledger(), Counter(handler.recipients))


def check_exactly_once(ledger: dict[str, str], received: Counter[str]) -> None:
    assert len(ledger) == READERS
    twice = [address for address, count in received.items() if count > 1]
    assert twice == [], f"{len(twice)} readers got the digest more than once"
    assert set(received) <= set(ledger)
    statuses = Counter(ledger.values())
    assert set(statuses) <= {"sent", "uncertain"}, statuses
    sent = {address for address, status in ledger.items() if status == "sent"}
    uncertain = {address for address, status in ledger.items() if status == "uncertain"}
    # Every row the ledger calls sent reached the server.
    assert sent <= set(received)
    # Anyone without a message is shown as uncertain, never silently dropped.
    missing = set(ledger) - set(received)
    assert missing <= uncertain
    # One worker died, holding at most one message in flight on each of its connections.
    assert len(uncertain) <= settings.DAYBRIEF_SEND_CONNECTIONS


def test_a_worker_killed_mid_send_costs_no_duplicate_and_no_silent_miss_on_sqlite():
    run_kill_test({})


@pytest.mark.skipif(
    not (settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and settings.REDIS_URL),
    reason="runs when the suite itself runs on PostgreSQL with REDIS_URL set (CI does)",
)
def test_a_worker_killed_mid_send_costs_no_duplicate_and_no_silent_miss_on_postgresql():
    with throwaway_postgres_database(os.environ["DATABASE_URL"], "daybrief_kill") as database_url:
        run_kill_test({"DATABASE_URL": database_url, "REDIS_URL": settings.REDIS_URL})
