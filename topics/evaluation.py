"""Score the production clustering against a labelled set, replayed as the service meets it.

A labelled set is JSON lines of {"id", "title", "text", "published", "source", "url", "cluster"}.
The articles are stored as real Article rows on a throwaway SQLite database and replayed day by
day in `published` order through `cluster_recent`; the gold `cluster` stays here and never
reaches the clustering code.
"""

import collections
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.sqlite3.base import DatabaseWrapper

from topics.clustering import cluster_recent
from topics.models import Article, Source


@dataclasses.dataclass(frozen=True)
class LabelledArticle:
    id: str
    title: str
    text: str
    published_at: dt.datetime
    source: str
    url: str
    cluster: str


def read_labelled(path: Path) -> list[LabelledArticle]:
    """Parse a labelled set; naive timestamps are taken as UTC, a missing source as 'unknown'."""
    articles = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            published = dt.datetime.fromisoformat(row["published"])
            articles.append(
                LabelledArticle(
                    id=str(row["id"]),
                    title=row.get("title") or "",
                    text=row.get("text") or "",
                    published_at=published.replace(tzinfo=published.tzinfo or dt.UTC),
                    source=(row.get("source") or "unknown").strip() or "unknown",
                    url=row.get("url") or "",
                    cluster=str(row["cluster"]),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path}:{number}: not a labelled article ({error})") from error
    if len({a.id for a in articles}) != len(articles):
        raise ValueError(f"{path}: article ids are not unique")
    return articles


def bcubed(gold: Sequence[str], predicted: Sequence[object]) -> tuple[float, float, float]:
    """Item-averaged BCubed (precision, recall, F1); each item is compared with its own clusters."""
    if not gold:
        return 0.0, 0.0, 0.0
    pairs = collections.Counter(zip(gold, predicted, strict=True))
    gold_sizes, predicted_sizes = collections.Counter(gold), collections.Counter(predicted)
    # Every item of a (gold, predicted) cell shares `n` items with its clusters: n² terms of n/size.
    precision = sum(n * n / predicted_sizes[p] for (_, p), n in pairs.items()) / len(gold)
    recall = sum(n * n / gold_sizes[g] for (g, _), n in pairs.items()) / len(gold)
    return precision, recall, _f1(precision, recall)


def pairwise(gold: Sequence[str], predicted: Sequence[object]) -> tuple[float, float, float]:
    """Precision, recall and F1 over the pairs of items put in one cluster."""
    pairs = collections.Counter(zip(gold, predicted, strict=True))
    together = sum(n * (n - 1) / 2 for n in pairs.values())
    predicted_pairs = sum(n * (n - 1) / 2 for n in collections.Counter(predicted).values())
    gold_pairs = sum(n * (n - 1) / 2 for n in collections.Counter(gold).values())
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / gold_pairs if gold_pairs else 1.0
    return precision, recall, _f1(precision, recall)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@contextlib.contextmanager
def throwaway_database() -> Iterator[None]:
    """Point the default connection at a fresh, migrated SQLite file for the duration.

    The configured connection object is set aside untouched (no query goes through it) and put
    back afterwards, so nothing done inside can reach the real database, whatever its engine.
    """
    original = connections[DEFAULT_DB_ALIAS]
    with tempfile.TemporaryDirectory(prefix="daybrief-eval-") as folder:
        name = str(Path(folder) / "evaluation.sqlite3")
        configured = connections.configure_settings(
            {DEFAULT_DB_ALIAS: {"ENGINE": "django.db.backends.sqlite3", "NAME": name}}
        )
        throwaway = DatabaseWrapper(configured[DEFAULT_DB_ALIAS], DEFAULT_DB_ALIAS)
        connections[DEFAULT_DB_ALIAS] = throwaway
        try:
            with throwaway.cursor() as cursor:
                # Nothing here needs to survive a crash, so skip the fsyncs.
                cursor.execute("PRAGMA journal_mode=OFF")
                cursor.execute("PRAGMA synchronous=OFF")
            call_command("migrate", database=DEFAULT_DB_ALIAS, verbosity=0, interactive=False)
            yield
        finally:
            throwaway.close()
            connections[DEFAULT_DB_ALIAS] = original


def replay(articles: Iterable[LabelledArticle]) -> dict[str, str | None]:
    """Store and cluster the articles day by day (UTC); returns each id's topic cluster id.

    Must run inside throwaway_database(): it writes Source, Article and Topic rows.
    """
    by_day: dict[dt.date, list[LabelledArticle]] = collections.defaultdict(list)
    for article in sorted(articles, key=lambda a: (a.published_at, a.id)):
        by_day[article.published_at.astimezone(dt.UTC).date()].append(article)
    sources: dict[str, Source] = {}
    for day in sorted(by_day):
        Article.objects.bulk_create([_article_row(a, sources) for a in by_day[day]])
        cluster_recent(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    return dict(Article.objects.values_list("identity", "topic__cluster_id"))


def _article_row(article: LabelledArticle, sources: dict[str, Source]) -> Article:
    key = article.source.casefold()
    if key not in sources:
        slug = hashlib.sha256(key.encode()).hexdigest()[:12]
        sources[key] = Source.objects.create(
            name=article.source, feed_url=f"https://evaluation.invalid/{slug}.xml"
        )
    return Article(
        source=sources[key],
        identity=article.id,
        url=article.url,
        title=article.title,
        text=article.text,
        published_at=article.published_at,
        first_seen_at=article.published_at,
        updated_at=article.published_at,
        content_hash=hashlib.sha256(f"{article.title}\n{article.text}".encode()).hexdigest(),
    )


def evaluate(articles: list[LabelledArticle]) -> tuple[dict[str, object], dict[str, str | None]]:
    """Replay on a throwaway database; returns (the JSON report, each article id's topic)."""
    started = time.perf_counter()
    with throwaway_database():
        topics = replay(articles)
    seconds = time.perf_counter() - started
    return report(articles, topics, seconds), topics


def report(
    articles: list[LabelledArticle], topics: dict[str, str | None], seconds: float
) -> dict[str, object]:
    gold = [a.cluster for a in articles]
    # An article left without a topic is a cluster of its own.
    predicted = [topics.get(a.id) or f"unplaced:{a.id}" for a in articles]
    b_precision, b_recall, b_f1 = bcubed(gold, predicted)
    p_precision, p_recall, p_f1 = pairwise(gold, predicted)
    days = {a.published_at.astimezone(dt.UTC).date() for a in articles}
    return {
        "bcubed_precision": round(b_precision, 4),
        "bcubed_recall": round(b_recall, 4),
        "bcubed_f1": round(b_f1, 4),
        "pairwise_precision": round(p_precision, 4),
        "pairwise_recall": round(p_recall, 4),
        "pairwise_f1": round(p_f1, 4),
        "articles": len(articles),
        "gold_clusters": len(set(gold)),
        "predicted_topics": len(set(predicted)),
        "days": len(days),
        "seconds": round(seconds, 2),
    }
