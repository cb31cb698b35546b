"""Admin changelists at newsroom scale: 100,000 articles in 20,000 topics.

Builds a throwaway SQLite database (or uses DATABASE_URL), fills it with bulk inserts, then
times each changelist an editor opens in the morning through Django's test client and counts
its queries. Prints one JSON object.

    .venv/bin/python benchmarks/admin_lists.py [--articles 100000] [--topics 20000]

With DATABASE_URL naming a database that already holds articles, that database is measured
as it is (nothing is added but the benchmark's superuser).
"""

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="daybrief-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from topics.models import Article

    # DATABASE_URL may name a database filled by an earlier run: measure it as it is.
    if not Article.objects.exists():
        fill(args.articles, args.topics)
    print(json.dumps(measure(args.repeat), indent=1))


def fill(article_count: int, topic_count: int) -> None:
    from django.utils import timezone

    from topics.models import Article, Source, Topic

    now = timezone.now()
    sources = Source.objects.bulk_create(
        Source(name=f"Source {n}", feed_url=f"https://s{n}.example.com/feed") for n in range(200)
    )
    topics = Topic.objects.bulk_create(
        (
            Topic(
                cluster_id=f"{n:010x}",
                headline=f"Story number {n}",
                category=["business", "technology", "policy", "science"][n % 4],
                importance=1 + n % 5,
                score=float(n % 997),
                article_count=5,
                source_count=1 + n % 6,
                is_pinned=n % 500 == 0,
                latest_at=now - dt.timedelta(minutes=n),
            )
            for n in range(topic_count)
        ),
        batch_size=2000,
    )
    Article.objects.bulk_create(
        (
            Article(
                source=sources[n % len(sources)],
                identity=f"urn:{n}",
                url=f"https://example.com/{n}",
                title=f"Article {n} about story {n % topic_count}",
                published_at=now - dt.timedelta(minutes=n // 5),
                first_seen_at=now - dt.timedelta(minutes=n // 5),
                content_hash=f"{n:064x}",
                topic=topics[n % topic_count],
            )
            for n in range(article_count)
        ),
        batch_size=2000,
    )


PAGES = {
    "topics": "/admin/topics/topic/",
    "topics_today": "/admin/topics/topic/?day=today",
    "topics_filtered": "/admin/topics/topic/?category=business&coverage=wide&state=pinned",
    "topics_search": "/admin/topics/topic/?q=number+1234",
    "articles": "/admin/topics/article/",
    "articles_by_source": "/admin/topics/article/?source__id__exact=7",
    "articles_search": "/admin/topics/article/?q=story+77",
    "topic_change": "/admin/topics/topic/{topic}/change/",
    "dashboard": "/admin/",
}


def measure(repeat: int) -> dict[str, object]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from topics.models import Topic

    user = User.objects.filter(username="bench").first()
    user = user or User.objects.create_superuser("bench", "bench@example.com", "pw")
    client = Client()
    client.force_login(user)
    topic = Topic.objects.order_by("pk").first()
    results: dict[str, object] = {}
    for name, url in PAGES.items():
        url = url.format(topic=topic.pk)
        timings, sql = [], []
        client.get(url)  # warm caches (content types, templates)
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                status = client.get(url).status_code
                timings.append(time.perf_counter() - start)
            assert status == 200, (url, status)
            sql.append(sum(float(q["time"]) for q in queries.captured_queries))
        results[name] = {
            "median_ms": round(statistics.median(timings) * 1000, 1),
            # The database's share; the rest is Django rendering the page.
            "sql_ms": round(statistics.median(sql) * 1000, 1),
            "queries": len(queries),
        }
    return {
        "articles": Topic.objects.model._meta.apps.get_model("topics", "Article").objects.count(),
        "topics": Topic.objects.count(),
        "database": connection.vendor,
        "pages": results,
    }


if __name__ == "__main__":
    main()
