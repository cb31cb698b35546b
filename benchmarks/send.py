"""Benchmark: deliver one digest to many readers through a local SMTP sink.

    .venv/bin/python benchmarks/send.py                    # 100,000 readers, 20 segments
    .venv/bin/python benchmarks/send.py --subscribers 5000 # a smaller run

Builds a throwaway site (SQLite under a temporary directory, or --database-url), seeds the
readers in 20 preference segments and builds the digest. Then it measures, against one
fast asyncio SMTP sink in this process:

* the production path: `--workers` processes each running newsletter.sending.send_digest
  (leases, ledger, a few SMTP connections per worker, one serialisation per body);
* the naive path on a sample: a fresh render and a new SMTP connection per message, as
  django-newsletter does;
* the sink floor: pre-built messages sent over one connection, no database at all.

Prints one JSON object. Duplicates and misses compare the sink's recipients with the readers.
"""

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEGMENTS = 20
NAIVE_SAMPLE = 300
FLOOR_SAMPLE = 3000


class Sink:
    """A minimal SMTP server on asyncio streams: reads each DATA body in one go and
    remembers only the recipients, so it costs a fraction of what aiosmtpd does."""

    def __init__(self) -> None:
        self.recipients: Counter[str] = Counter()
        self.first_at = 0.0
        self.last_at = 0.0
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._session, "127.0.0.1", 0, limit=2**24)
        )
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def reset(self) -> None:
        with self.lock:
            self.recipients.clear()
            self.first_at = self.last_at = 0.0

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ready\r\n")
        rcpts: list[str] = []
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"RCPT":
                rcpts.append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
                writer.write(b"250 ok\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n.\r\n")
                self._received(rcpts)
                rcpts = []
                writer.write(b"250 accepted\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:  # MAIL, RSET, NOOP
                if verb == b"RSET":
                    rcpts = []
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    def _received(self, rcpts: list[str]) -> None:
        now = time.monotonic()
        with self.lock:
            self.recipients.update(rcpts)
            self.first_at = self.first_at or now
            self.last_at = now


def seed(subscribers: int) -> int:
    from django.core.management import call_command
    from django.db.models.functions import Mod
    from django.utils import timezone

    from newsletter.digests import build_digest
    from newsletter.models import Delivery, Subscriber, SubscriberStatus
    from tests.factories import make_article, make_source, make_topic

    call_command("migrate", verbosity=0)
    source = make_source()
    for n in range(12):
        headline = f"Story {n + 1}: a headline of ordinary length about something that happened"
        article = make_article(source, title=headline, text=headline * 8)
        make_topic(
            [article], headline=headline, score=100 - n, article_count=1, lead_article=article
        )
    Subscriber.objects.bulk_create(
        (
            Subscriber(email=f"reader{n}@example{n % 7}.com", status=SubscriberStatus.CONFIRMED)
            for n in range(subscribers)
        ),
        batch_size=5000,
    )
    digest = build_digest(timezone.localdate())
    # Readers spread over 20 preference segments (minimum importance x number of cards,
    # keys as newsletter/segments.py writes them), as they would be after choosing.
    keys = [f"all/{importance}/{cards}" for importance in range(1, 6) for cards in (4, 6, 8, 10)]
    deliveries = Delivery.objects.filter(digest=digest).annotate(slot=Mod("pk", SEGMENTS))
    for slot, key in enumerate(keys):
        deliveries.filter(slot=slot).update(segment=key)
    return digest.pk


WORKER = """
import resource, sys, django
django.setup()
from newsletter.sending import send_digest
usage = resource.getrusage(resource.RUSAGE_SELF)
result = send_digest(int(sys.argv[1]))
after = resource.getrusage(resource.RUSAGE_SELF)
cpu_s = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
print(result.sent, after.ru_maxrss / 1024, cpu_s, flush=True)
"""


def run_workers(digest_id: int, workers: int, env: dict[str, str]) -> dict[str, float]:
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(digest_id)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    outputs = [process.communicate()[0].split() for process in processes]
    return {
        "wall_s": time.monotonic() - started,
        "sent": sum(int(out[0]) for out in outputs),
        "peak_rss_mb": max(float(out[1]) for out in outputs),
        "cpu_s": sum(float(out[2]) for out in outputs),
    }


def naive(digest_id: int, sample: int) -> float:
    """A fresh render and a new connection per message (django-newsletter's way)."""
    from django.core import mail

    from newsletter import emails
    from newsletter.models import Digest, Subscriber

    digest = Digest.objects.get(pk=digest_id)
    readers = list(Subscriber.objects.order_by("pk")[:sample])
    started = time.monotonic()
    for reader in readers:
        message = emails.digest_message(emails.render_digest(digest), reader)
        with mail.get_connection() as connection:
            connection.send_messages([message])
    return len(readers) / (time.monotonic() - started)


def floor(digest_id: int, sample: int) -> float:
    """Pre-built messages over one connection: the sink and socket limit, no database."""
    from email.utils import parseaddr

    from django.conf import settings

    from newsletter import emails
    from newsletter.models import Digest, Subscriber
    from newsletter.prototypes import MessagePrototype
    from newsletter.smtp import SMTPConnection

    prototype = MessagePrototype.build(emails.render_digest(Digest.objects.get(pk=digest_id)))
    assert prototype is not None
    readers = list(Subscriber.objects.order_by("pk")[:sample])
    built = [(r.email, prototype.address(r).data) for r in readers]  # type: ignore[union-attr]
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    connection = SMTPConnection.open()
    started = time.monotonic()
    for address, data in built:
        connection.send(sender, address, data, lambda: True)
    elapsed = time.monotonic() - started
    connection.close()
    return len(built) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    args = parser.parse_args()

    sink = Sink()
    sink.start()
    var_dir = tempfile.mkdtemp(prefix="daybrief-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAYBRIEF_", "Q_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="newsletter.settings",
        # Production workers: DEBUG off (with DEBUG on, Django also logs every query).
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        DAYBRIEF_VAR_DIR=var_dir,
        EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",
        LOG_LEVEL="WARNING",
        DAYBRIEF_SEND_BATCH="500",
    )
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    seed_started = time.monotonic()
    digest_id = seed(args.subscribers)
    seed_s = time.monotonic() - seed_started

    workers = run_workers(digest_id, args.workers, env)
    received = Counter(sink.recipients)
    sending_s = max(sink.last_at - sink.first_at, 1e-9)

    from newsletter.models import Delivery, DeliveryStatus

    ledger_sent = Delivery.objects.filter(digest_id=digest_id, status=DeliveryStatus.SENT).count()
    sink.reset()
    naive_rate = naive(digest_id, min(NAIVE_SAMPLE, args.subscribers))
    sink.reset()
    floor_rate = floor(digest_id, min(FLOOR_SAMPLE, args.subscribers))

    messages_per_s = sum(received.values()) / sending_s
    print(
        json.dumps(
            {
                "subscribers": args.subscribers,
                "segments": SEGMENTS,
                "workers": args.workers,
                "database": "postgresql" if args.database_url else "sqlite",
                "messages_per_s": round(messages_per_s, 1),
                "wall_s_including_worker_start": round(workers["wall_s"], 2),
                # Worker CPU (user + system) per message: what a loaded machine skews least.
                "worker_cpu_ms_per_message": round(
                    1000 * workers["cpu_s"] / max(workers["sent"], 1), 3
                ),
                "naive_messages_per_s": round(naive_rate, 1),
                "speedup_over_naive": round(messages_per_s / naive_rate, 1),
                "sink_floor_messages_per_s": round(floor_rate, 1),
                "duplicates": sum(count - 1 for count in received.values() if count > 1),
                "missing": args.subscribers - len(received),
                "ledger_sent": ledger_sent,
                "peak_rss_mb": round(workers["peak_rss_mb"], 1),
                "bench_peak_rss_mb": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                ),
                "seed_s": round(seed_s, 1),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
