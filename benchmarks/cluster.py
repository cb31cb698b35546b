"""Clustering speed: a 10,000-article day from scratch, 1,000 new articles into a 72-hour window
of 30,000, and evaluate_clustering on neus_dev. Prints one JSON object.

    .venv/bin/python benchmarks/cluster.py [--skip-neus]

Runs on a throwaway SQLite database (topics.evaluation.throwaway_database), never on real data.
The synthetic articles are deterministic: stories of 3-8 articles sharing names and topical
words, written over a Zipf-distributed background vocabulary, like feed items (title and lead).
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NEUS = ROOT.parent / "shared" / "data" / "clustering" / "neus_dev.jsonl"
NOW = dt.datetime(2026, 4, 21, 12, 0, tzinfo=dt.UTC)


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    # Production settings: with DEBUG on, Django keeps every query with its parameters (on
    # SQLite quoted by one more query each), which the service does not pay for.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    import django

    django.setup()


class Newsroom:
    """A deterministic stream of synthetic stories."""

    def __init__(self, seed: int = 7, vocabulary: int = 30000) -> None:
        self.random = np.random.default_rng(seed)
        syllables = [
            "ka",
            "to",
            "ri",
            "mel",
            "an",
            "sor",
            "vi",
            "den",
            "lu",
            "pra",
            "gos",
            "te",
            "bo",
            "ne",
            "fu",
            "ra",
            "shi",
            "zem",
            "ol",
            "dra",
        ]
        words: set[str] = set()  # 20 syllables in 2-4 make 168,400 words: enough to draw from
        while len(words) < vocabulary:
            count = int(self.random.integers(2, 5))
            words.add("".join(self.random.choice(syllables, size=count)))
        self.words = np.array(sorted(words))
        weights = 1.0 / np.arange(1, vocabulary + 1)
        self.weights = weights / weights.sum()

    def story(self) -> tuple[list[str], list[str]]:
        topical = [str(w) for w in self.random.choice(self.words[2000:], size=12, replace=False)]
        names = [str(w).capitalize() for w in self.random.choice(self.words[5000:], size=4)]
        return topical, names

    def article(self, story: tuple[list[str], list[str]]) -> tuple[str, str]:
        topical, names = story
        title = self._mix(topical, names, 9, share=0.6)
        text = self._mix(topical, names, 60, share=0.3)
        return title.capitalize(), f"{text.capitalize()}."

    def _mix(self, topical: list[str], names: list[str], length: int, share: float) -> str:
        background = self.random.choice(len(self.words), size=length, p=self.weights)
        pools = self.random.random(length)
        picks = self.random.integers(0, 12, size=length)
        words = [
            (names[picks[n] % len(names)] if pools[n] < share * 0.3 else topical[picks[n]])
            if pools[n] < share
            else str(self.words[background[n]])
            for n in range(length)
        ]
        return " ".join(words)

    def articles(self, count: int, start: dt.datetime, hours: float) -> list[tuple]:
        """(title, text, published_at, story number), oldest first."""
        rows: list[tuple] = []
        story_number = 0
        while len(rows) < count:
            story, first = self.story(), float(self.random.uniform(0, hours))
            for _ in range(int(self.random.integers(3, 9))):
                offset = min(hours - 0.01, first + float(self.random.exponential(3.0)))
                title, text = self.article(story)
                rows.append((title, text, start + dt.timedelta(hours=offset), story_number))
            story_number += 1
        return sorted(rows[:count], key=lambda row: row[2])


def store(rows: list[tuple], prefix: str, placed: bool = False) -> None:
    """Save the rows as articles; with `placed`, as already clustered (one topic per story)."""
    from topics.models import Article, Source, Topic

    sources = [
        Source.objects.get_or_create(
            feed_url=f"https://bench.invalid/{n}.xml", defaults={"name": f"Bench {n}"}
        )[0]
        for n in range(20)
    ]
    topics: dict[int, Topic] = {}
    if placed:
        stories = sorted({row[3] for row in rows})
        created = Topic.objects.bulk_create(
            [Topic(cluster_id=f"{prefix[:2]}{n:08x}", needs_enrichment=False) for n in stories]
        )
        topics = dict(zip(stories, created, strict=True))
    articles = [
        Article(
            source=sources[n % len(sources)],
            identity=f"{prefix}:{n}",
            title=title,
            text=text,
            published_at=published,
            first_seen_at=published,
            content_hash=hashlib.sha256(f"{prefix}:{n}".encode()).hexdigest(),
            topic=topics.get(story),
        )
        for n, (title, text, published, story) in enumerate(rows)
    ]
    Article.objects.bulk_create(articles, batch_size=2000)


def timed_cluster(now: dt.datetime) -> float:
    from topics.clustering import cluster_recent

    started = time.perf_counter()
    cluster_recent(now)
    return time.perf_counter() - started


def day_10k() -> float:
    from topics.evaluation import throwaway_database

    with throwaway_database():
        store(Newsroom(seed=1).articles(10000, NOW - dt.timedelta(hours=24), 24), "day")
        return timed_cluster(NOW)


def add_1k_to_30k() -> float:
    from django.conf import settings

    from topics.evaluation import throwaway_database
    from topics.window import load_window

    newsroom = Newsroom(seed=2)
    with throwaway_database():
        store(newsroom.articles(30000, NOW - dt.timedelta(hours=72), 71), "window", placed=True)
        # The runs that placed the window stored its articles' term counts.
        load_window(NOW, settings.DAYBRIEF_CLUSTER_WINDOW_HOURS)
        store(newsroom.articles(1000, NOW - dt.timedelta(hours=1), 1), "new")
        return timed_cluster(NOW)


def neus() -> dict[str, object]:
    from topics.evaluation import evaluate, read_labelled

    if not NEUS.exists():
        return {}
    report, _ = evaluate(read_labelled(NEUS))
    return {f"neus_{key}": value for key, value in report.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-neus", action="store_true", help="Only the synthetic runs.")
    args = parser.parse_args()
    setup_django()
    result: dict[str, object] = {
        "day_10k_s": round(day_10k(), 2),
        "add_1k_to_30k_s": round(add_1k_to_30k(), 2),
    }
    if not args.skip_neus:
        result.update(neus())
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
