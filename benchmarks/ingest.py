"""Ingestion speed through the production code. Prints one JSON object.

    .venv/bin/python benchmarks/ingest.py [--feeds 1000] [--entries 50]

A child process serves generated RSS feeds (50 entries each, HTML content with links,
images and lists) from 127.0.0.1-127.0.0.50, one port, so the fetcher's per-host limit
behaves as it would across many publishers. Then, in one run:

(a) full_refresh_s: topics.fetching.fetch_sources over every feed into an empty
    database (a throwaway SQLite file);
(b) not_modified_feeds_per_s: the same feeds again, every server answering 304;
(c) feedparser_floor_s: feedparser.parse (its defaults) on the same bytes, one after the
    other; feedparser_raw_mode_s is the same with the options production uses
    (sanitize_html and resolve_relative_uris off), the parser's own share of (a);
plus network_s: downloading every feed with the production downloader and the same
thread pool, nothing stored, and peak_rss_mb of this process.
"""

import argparse
import datetime as dt
import json
import os
import random
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Event, Process
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOSTS = 50
NOW = dt.datetime(2026, 4, 21, 12, 0, tzinfo=dt.UTC)
WORDS = [
    *("market", "policy", "court", "energy", "vote", "chip", "grid", "rate", "bank", "health"),
    *("city", "port", "trade", "climate", "science", "league", "union", "budget", "school"),
    *("water", "rail", "price", "study", "launch", "talks", "deal", "board"),
]


def feed_body(n: int, entries: int) -> bytes:
    """A deterministic RSS 2.0 feed with `entries` items of HTML content."""
    rng = random.Random(n)
    items = []
    for i in range(entries):
        published = NOW - dt.timedelta(hours=i * 3 + rng.random())
        words = " ".join(rng.choice(WORDS) for _ in range(60))
        content = (
            f"<p>{words.capitalize()}.</p><p>See <a href='/story/{n}/{i}/more?utm_source=x'>"
            f"the details</a> and <strong>{rng.choice(WORDS)}</strong> figures.</p>"
            f"<figure><img src='/img/{n}/{i}.jpg' alt='photo'><figcaption>{words[:40]}"
            f"</figcaption></figure><ul><li>{words[:50]}</li><li>{words[50:100]}</li></ul>"
            f"<blockquote>{words[:120]}</blockquote><p>{words}</p>"
        )
        items.append(
            f"<item><guid isPermaLink='false'>feed{n}-entry{i}</guid>"
            f"<title>{rng.choice(WORDS).title()} {words[:60]} &amp; more</title>"
            f"<link>https://news{n}.example/story/{i}?utm_medium=rss</link>"
            f"<pubDate>{published.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>"
            f"<description>{words[:200]}</description>"
            f"<content:encoded><![CDATA[{content}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Feed {n}</title><link>https://news{n}.example/</link>"
        f"<description>Generated</description>{''.join(items)}</channel></rss>"
    ).encode()


def host_of(n: int) -> str:
    return f"127.0.0.{n % HOSTS + 1}"


def serve(port: int, feeds: int, entries: int, ready, stop) -> None:  # type: ignore[no-untyped-def]
    """The child process: one threading HTTP server per loopback address."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    bodies = [feed_body(n, entries) for n in range(feeds)]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            n = int(self.path.rsplit("/", 1)[1].split(".")[0])
            etag = f'"feed-{n}-v1"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(bodies[n])))
            self.end_headers()
            self.wfile.write(bodies[n])

        def log_message(self, *args: object) -> None:
            pass

    servers = []
    for h in range(HOSTS):
        server = ThreadingHTTPServer((f"127.0.0.{h + 1}", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    ready.set()
    stop.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_django(database: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "newsletter.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DAYBRIEF_ALLOW_PRIVATE_FEEDS"] = "1"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def timed(function, *args):  # type: ignore[no-untyped-def]
    """Wall time, this process's CPU time (all threads) and the result."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return time.perf_counter() - start, time.process_time() - cpu, result


def parse_all(bodies: list[bytes], **options: bool) -> float:
    import feedparser

    start = time.perf_counter()
    for body in bodies:
        feedparser.parse(body, response_headers={"content-type": "application/rss+xml"}, **options)
    return time.perf_counter() - start


def download_all(urls: list[str]) -> None:
    from topics.feed_http import download
    from topics.fetching import ROUND_WORKERS

    with ThreadPoolExecutor(ROUND_WORKERS) as pool:
        sizes = list(pool.map(lambda url: len(download(url).body), urls))
    assert all(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=50)
    args = parser.parse_args()

    port = free_port()
    ready, stop = Event(), Event()
    child = Process(target=serve, args=(port, args.feeds, args.entries, ready, stop), daemon=True)
    child.start()
    ready.wait(120)
    urls = [f"http://{host_of(n)}:{port}/feed/{n}.xml" for n in range(args.feeds)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            setup_django(str(Path(tmp) / "bench.sqlite3"))
            report = run(args.feeds, args.entries, urls)
    finally:
        stop.set()
        child.join(10)
    print(json.dumps(report, indent=2))


def run(feeds: int, entries: int, urls: list[str]) -> dict[str, object]:
    from django.utils import timezone

    from topics.fetching import fetch_sources
    from topics.models import Article, Source

    network_s, network_cpu_s, _ = timed(download_all, urls)
    Source.objects.bulk_create(
        Source(name=f"Feed {n}", feed_url=url, created_at=timezone.now())
        for n, url in enumerate(urls)
    )
    ids = list(Source.objects.order_by("pk").values_list("pk", flat=True))

    full_s, full_cpu_s, full = timed(fetch_sources, ids)
    stored = Article.objects.count()
    not_modified_s, not_modified_cpu_s, again = timed(fetch_sources, ids)

    bodies = [feed_body(n, entries) for n in range(feeds)]
    floor_s, floor_cpu_s, _ = timed(parse_all, bodies)
    raw_s, raw_cpu_s, _ = timed(
        lambda: parse_all(bodies, sanitize_html=False, resolve_relative_uris=False)
    )
    return {
        "feeds": feeds,
        "entries_per_feed": entries,
        "feed_bytes_total": sum(map(len, bodies)),
        "full_refresh_s": round(full_s, 2),
        "full_refresh_new_articles": full.new_articles,
        "full_refresh_failed": full.failed,
        "articles_stored": stored,
        "not_modified_s": round(not_modified_s, 2),
        "not_modified_feeds_per_s": round(feeds / not_modified_s, 1),
        "not_modified_failed": again.failed,
        "not_modified_new_articles": again.new_articles,
        "feedparser_floor_s": round(floor_s, 2),
        "feedparser_raw_mode_s": round(raw_s, 2),
        "network_s": round(network_s, 2),
        "full_refresh_vs_floor_plus_network": round(full_s / (floor_s + network_s), 2),
        # CPU seconds of this process (all threads): less sensitive to a busy machine.
        "full_refresh_cpu_s": round(full_cpu_s, 2),
        "not_modified_cpu_s": round(not_modified_cpu_s, 2),
        "feedparser_floor_cpu_s": round(floor_cpu_s, 2),
        "feedparser_raw_mode_cpu_s": round(raw_cpu_s, 2),
        "network_cpu_s": round(network_cpu_s, 2),
        "full_refresh_cpu_vs_floor_plus_network": round(
            full_cpu_s / (floor_cpu_s + network_cpu_s), 2
        ),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    main()
