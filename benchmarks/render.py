"""Rendering the digest for 10,000 readers spread over 20 preference segments.

Builds a throwaway SQLite database (or uses DATABASE_URL) with a 40-story day and the
readers, builds the digest (which freezes each reader's segment), then times what sending
asks of the email code for every delivery: the segment's body (MJML compiled on first use
only), the reader's own links and headers, and MIME serialisation to bytes. One process,
one thread. For scale, the naive way (compiling the email again for every reader) is timed
on a sample. Prints one JSON object.

`ms_per_subscriber` is the CPU time this process spent per reader: what one core pays, and
steady on a shared machine. `wall_ms_per_subscriber` is elapsed time, which on a busy
machine also counts the time other processes held the core (see `load_average`).

    .venv/bin/python benchmarks/render.py [--subscribers 10000] [--topics 40]
"""

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# 5 category choices x 2 minimum importances x 2 card counts = 20 segments.
CATEGORY_CHOICES = [[], ["business"], ["technology"], ["business", "technology"], ["policy"]]
IMPORTANCES = [1, 3]
CARD_COUNTS = [5, 10]
NAIVE_SAMPLE = 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=40)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="daybrief-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    day = fill(args.subscribers, args.topics)
    print(json.dumps(measure(day), indent=1))


def fill(subscriber_count: int, topic_count: int):
    from django.utils import timezone

    from newsletter.models import Subscriber, SubscriberStatus
    from tests.news_day import make_news_day

    make_news_day(topic_count)
    segments = list(itertools.product(CATEGORY_CHOICES, IMPORTANCES, CARD_COUNTS))
    Subscriber.objects.bulk_create(
        (
            Subscriber(
                email=f"reader{n}@example.com",
                status=SubscriberStatus.CONFIRMED,
                categories=segments[n % len(segments)][0],
                min_importance=segments[n % len(segments)][1],
                max_topics=segments[n % len(segments)][2],
            )
            for n in range(subscriber_count)
        ),
        batch_size=2000,
    )
    return timezone.localdate()


def measure(day) -> dict[str, object]:
    from newsletter import emails
    from newsletter.digests import build_digest
    from newsletter.models import Delivery, DeliveryStatus

    started = time.process_time()
    digest = build_digest(day)
    build_ms = (time.process_time() - started) * 1000
    deliveries = list(
        Delivery.objects.filter(digest=digest, status=DeliveryStatus.PENDING)
        .select_related("subscriber")
        .order_by("pk")
    )
    rendered = emails.RenderedSegments(digest)
    sizes = []
    wall, cpu = time.perf_counter(), time.process_time()
    for delivery in deliveries:
        data = emails.message_for(delivery, rendered).message().as_bytes()
        sizes.append(len(data))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    count = len(deliveries)
    html_sizes = [len(email.html.encode()) for email in rendered.values()]
    return {
        "subscribers": count,
        "segments": len(rendered),
        "topics_in_pool": len(rendered.pool),
        "ms_per_subscriber": round(cpu * 1000 / count, 3),
        "wall_ms_per_subscriber": round(wall * 1000 / count, 3),
        "subscribers_per_cpu_s": round(count / cpu),
        "naive_ms_per_subscriber": naive_ms(digest, deliveries[:NAIVE_SAMPLE]),
        "build_digest_cpu_ms": round(build_ms, 1),
        "html_kb_max": round(max(html_sizes) / 1024, 1),
        "html_kb_min": round(min(html_sizes) / 1024, 1),
        "mime_kb_median": round(statistics.median(sizes) / 1024, 1),
        "load_average": [round(load, 1) for load in os.getloadavg()],
    }


def naive_ms(digest, sample) -> float:
    """CPU ms per reader when the segment's email is rendered and compiled afresh for every
    reader, then serialised."""
    from newsletter import emails

    started = time.process_time()
    for delivery in sample:
        email = emails.render_segment(digest, delivery.segment)
        emails.digest_message(email, delivery.subscriber).message().as_bytes()
    return round((time.process_time() - started) * 1000 / len(sample), 3)


if __name__ == "__main__":
    main()
