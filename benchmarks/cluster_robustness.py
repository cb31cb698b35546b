"""Does the story clustering generalise? Scores it on variants of the labelled sets that mimic
what a held-out set could look like, next to a plain TF-IDF baseline. Prints one JSON object.

    .venv/bin/python benchmarks/cluster_robustness.py [--only NAME ...] [--no-baseline] [--seed N]
    .venv/bin/python benchmarks/cluster_robustness.py --sensitivity

Reads ../shared/data/clustering (never copied into the repo). Each variant is derived from
neus_dev.jsonl or basil.jsonl with a fixed seed, written to a temporary JSONL file and scored as
`evaluate_clustering` scores a file (topics.evaluation: read_labelled, then a day-by-day replay
through cluster_recent on a throwaway SQLite database). The constants of topics/clustering.py
were tuned on the two sets as they are; the variants change what held-out sets may well
differ in: how many stories a day brings, how far apart a story's reports are, how much text a
feed gives, whether it gives times at all, and a stream mixing both sets.

`--sensitivity` instead scores the two sets with each main constant moved by -25% and +25%.
"""

import argparse
import collections
import dataclasses
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from topics.evaluation import LabelledArticle

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "clustering"
SEED = 20260427
# neus_dev's stories are spread over 28 synthetic days.
NEUS_DAYS = 28
# The baseline's one threshold (mean cosine) and how many days back a day's clusters may attach.
BASELINE_THRESHOLD = 0.2
BASELINE_DAYS_BACK = 3


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    os.environ.setdefault("DEBUG", "0")  # as benchmarks/cluster.py: no query log
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    import django

    django.setup()


# Variants: each takes a set's articles and a seeded generator, and returns new articles.

Articles = list["LabelledArticle"]
Variant = Callable[[Articles, np.random.Generator], Articles]


def unchanged(articles: Articles, random: np.random.Generator) -> Articles:
    return list(articles)


def by_story(articles: Articles) -> dict[str, Articles]:
    stories: dict[str, Articles] = collections.defaultdict(list)
    for article in sorted(articles, key=lambda a: (a.published_at, a.id)):
        stories[article.cluster].append(article)
    return stories


def shifted(article: "LabelledArticle", delta: dt.timedelta) -> "LabelledArticle":
    return dataclasses.replace(article, published_at=article.published_at + delta)


def redrawn(articles: Articles, random: np.random.Generator) -> Articles:
    """neus_dev's stories laid out again: each moved to a random one of its 28 days, at a start
    time of day drawn from the set's own, its reports keeping their gaps. Another draw of the
    same layout, so a difference is the luck of which stories share hours."""
    stories = by_story(articles)
    start = _midnight(min(a.published_at for a in articles))
    firsts = [story[0].published_at.astimezone(dt.UTC) for story in stories.values()]
    time_of_day = [first - _midnight(first) for first in firsts]
    result = []
    for story, first in zip(stories.values(), firsts, strict=True):
        moved = start + dt.timedelta(days=int(random.integers(NEUS_DAYS)))
        moved += time_of_day[int(random.integers(len(time_of_day)))]
        result += [shifted(a, moved - first) for a in story]
    return result


def denser(articles: Articles, random: np.random.Generator) -> Articles:
    """The set's days folded into 7 (stories keep their times of day and their reports' gaps),
    so each day brings four times as many stories."""
    first_day = min(a.published_at.astimezone(dt.UTC).date() for a in articles)
    result = []
    for story in by_story(articles).values():
        day = (story[0].published_at.astimezone(dt.UTC).date() - first_day).days
        result += [shifted(a, -dt.timedelta(days=day // 7 * 7)) for a in story]
    return result


def spread(articles: Articles, random: np.random.Generator) -> Articles:
    """Each story's reports up to 36 h after its first instead of 10 (gaps scaled by 3.6)."""
    result = []
    for story in by_story(articles).values():
        first = story[0].published_at
        result += [
            dataclasses.replace(a, published_at=first + (a.published_at - first) * 3.6)
            for a in story
        ]
    return result


def titles_only(articles: Articles, random: np.random.Generator) -> Articles:
    return [dataclasses.replace(a, text="") for a in articles]


def lead_only(articles: Articles, random: np.random.Generator) -> Articles:
    """The first 300 characters of the text, as an RSS description gives."""
    return [dataclasses.replace(a, text=a.text[:300]) for a in articles]


def date_only(articles: Articles, random: np.random.Generator) -> Articles:
    """Midnight UTC of each article's day: what a feed that gives only dates parses to."""
    return [
        dataclasses.replace(a, published_at=_midnight(a.published_at.astimezone(dt.UTC)))
        for a in articles
    ]


def timed(articles: Articles, random: np.random.Generator) -> Articles:
    """basil's date-only articles given a time of day (uniform, seeded): as timed feeds give."""
    return [shifted(a, _hours(float(random.uniform(0, 24)))) for a in articles]


def mixed(articles: Articles, random: np.random.Generator) -> Articles:
    """neus_dev with basil's stories placed on its days (each basil story moved by whole days
    onto a random neus day, keeping its own date-only times and day gaps)."""
    neus_start = _midnight(min(a.published_at for a in articles))
    result = list(articles)
    for story in by_story(read_set("basil")).values():
        target = neus_start + dt.timedelta(days=int(random.integers(NEUS_DAYS)))
        result += [shifted(a, target - _midnight(story[0].published_at)) for a in story]
    return result


def _hours(hours: float) -> dt.timedelta:
    return dt.timedelta(hours=hours)


def _midnight(moment: dt.datetime) -> dt.datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    base: str
    variant: Variant
    what: str


CASES = [
    Case("neus_dev", "neus_dev", unchanged, "as tuned on"),
    Case("neus_redrawn", "neus_dev", redrawn, "same stories, another draw of days and times"),
    Case("neus_dense", "neus_dev", denser, "28 days folded into 7: 4x the stories a day"),
    Case("neus_spread", "neus_dev", spread, "a story's reports up to 36 h apart, not 10"),
    Case("neus_titles", "neus_dev", titles_only, "titles only, no text"),
    Case("neus_date_only", "neus_dev", date_only, "times cut to midnight UTC"),
    Case("neus_basil_mixed", "neus_dev", mixed, "basil's stories placed on neus days"),
    Case("basil", "basil", unchanged, "as tuned on (date-only, full text)"),
    Case("basil_timed", "basil", timed, "a random time of day instead of midnight"),
    Case("basil_lead", "basil", lead_only, "text cut to a 300-character lead"),
    Case("basil_titles", "basil", titles_only, "titles only, no text"),
]


def read_set(name: str) -> Articles:
    from topics.evaluation import read_labelled

    return read_labelled(DATA / f"{name}.jsonl")


def write_set(articles: Articles, path: Path) -> Path:
    """The variant as a labelled JSONL file, in the format evaluate_clustering reads."""
    lines = [
        json.dumps(
            {
                "id": a.id,
                "title": a.title,
                "text": a.text,
                "published": a.published_at.isoformat(),
                "source": a.source,
                "url": a.url or None,
                "cluster": a.cluster,
            }
        )
        for a in articles
    ]
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def score_case(case: Case, folder: Path, baseline: bool, seed: int = SEED) -> dict[str, object]:
    from topics.evaluation import evaluate, read_labelled

    derived = case.variant(read_set(case.base), np.random.default_rng(seed))
    articles = read_labelled(write_set(derived, folder / f"{case.name}.jsonl"))
    cpu = time.process_time()
    report, topics = evaluate(articles)
    result: dict[str, object] = {
        "what": case.what,
        "articles": len(articles),
        "days": report["days"],
        "bcubed_precision": report["bcubed_precision"],
        "bcubed_recall": report["bcubed_recall"],
        "bcubed_f1": report["bcubed_f1"],
        "pairwise_f1": report["pairwise_f1"],
        "cpu_s": round(time.process_time() - cpu, 1),
    }
    if case.variant is mixed:
        result.update(subset_scores(articles, topics))
    if baseline:
        precision, recall, f1 = tfidf_baseline(articles)
        result["baseline_bcubed"] = [round(precision, 4), round(recall, 4), round(f1, 4)]
    return result


def subset_scores(articles: Articles, topics: dict[str, str | None]) -> dict[str, object]:
    """BCubed P/R/F1 averaged over each source set's own articles (a basil article's precision
    counts the neus articles put in its topic)."""
    predicted = [topics.get(a.id) or f"unplaced:{a.id}" for a in articles]
    origins = ["basil" if a.id.startswith("basil") else "neus" for a in articles]
    scores: dict[str, object] = {}
    for origin in ("neus", "basil"):
        chosen = [k for k, o in enumerate(origins) if o == origin]
        p, r, f1 = item_bcubed([a.cluster for a in articles], predicted, chosen)
        scores[f"{origin}_part_bcubed"] = [round(p, 4), round(r, 4), round(f1, 4)]
    return scores


def item_bcubed(
    gold: Sequence[str], predicted: Sequence[str], chosen: Sequence[int]
) -> tuple[float, float, float]:
    """BCubed over all items' clusters, averaged over the chosen items only."""
    pairs = collections.Counter(zip(gold, predicted, strict=True))
    gold_sizes, predicted_sizes = collections.Counter(gold), collections.Counter(predicted)
    precision = sum(pairs[gold[k], predicted[k]] / predicted_sizes[predicted[k]] for k in chosen)
    recall = sum(pairs[gold[k], predicted[k]] / gold_sizes[gold[k]] for k in chosen)
    precision, recall = precision / len(chosen), recall / len(chosen)
    return precision, recall, 2 * precision * recall / (precision + recall)


def tfidf_baseline(articles: Articles) -> tuple[float, float, float]:
    """A plain reference point, replayed day by day like the product: scikit-learn TF-IDF of
    title and text fitted on the day and the three before it, average-link clusters of the day's
    articles at one threshold, each attached to the previous days' topic it reaches on average
    (no time fade, no tuning beyond the one threshold)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from topics.evaluation import bcubed

    ordered = sorted(articles, key=lambda a: (a.published_at, a.id))
    days = [a.published_at.astimezone(dt.UTC).date() for a in ordered]
    topic = np.full(len(ordered), -1)
    next_topic = 0
    for day in sorted(set(days)):
        today = [k for k, d in enumerate(days) if d == day]
        earlier = [k for k, d in enumerate(days) if 0 < (day - d).days <= BASELINE_DAYS_BACK]
        texts = [f"{ordered[k].title}. {ordered[k].text}" for k in earlier + today]
        vectors = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
        old, new = vectors[: len(earlier)], vectors[len(earlier) :]
        labels = _average_link(new)
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            target = _best_topic(new[members], old, topic[earlier])
            if target is None:
                target, next_topic = next_topic, next_topic + 1
            topic[np.array(today)[members]] = target
    return bcubed([a.cluster for a in ordered], [int(t) for t in topic])


def _average_link(vectors: Any) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if vectors.shape[0] < 2:
        return np.zeros(vectors.shape[0], dtype=np.int64)
    distance = 1.0 - (vectors @ vectors.T).toarray()
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(np.clip(distance, 0.0, None), checks=False), method="average")
    return fcluster(tree, t=1.0 - BASELINE_THRESHOLD, criterion="distance")


def _best_topic(group: Any, old: Any, old_topics: np.ndarray) -> int | None:
    """The earlier topic whose mean cosine to the group is highest, if it reaches the threshold."""
    if not len(old_topics):
        return None
    topics, position = np.unique(old_topics, return_inverse=True)
    summed = np.asarray((group @ old.T).sum(axis=0)).ravel()
    totals = np.bincount(position, weights=summed)
    means = totals / (np.bincount(position) * group.shape[0])
    best = int(np.argmax(means))
    return int(topics[best]) if means[best] >= BASELINE_THRESHOLD else None


# Sensitivity: (module, constant) pairs moved by -25% and +25%, one at a time.
CONSTANTS = [
    ("topics.clustering", "MERGE_THRESHOLD"),
    ("topics.clustering", "GROUP_SEPARATION"),
    ("topics.clustering", "SAME_STORY_SIMILARITY"),
    ("topics.clustering", "FOLLOW_UP_SIMILARITY"),
    ("topics.clustering", "TIME_GRACE_HOURS"),
    ("topics.clustering", "TIME_DECAY_HOURS"),
    ("topics.clustering", "FOLLOW_UP_GRACE_HOURS"),
    ("topics.clustering", "FOLLOW_UP_DECAY_HOURS"),
    ("topics.clustering", "MERGE_PASS_THRESHOLD"),  # imported there from topics.merging
    ("topics.duplicates", "NEAR_DUPLICATE_SIMILARITY"),
    ("topics.vectorize", "TITLE_REPEAT"),
    ("topics.weighing", "CHAR_WEIGHT"),
    ("topics.weighing", "NAME_WEIGHT"),
]


@contextmanager
def patched(module_name: str, name: str, value: object) -> Iterator[None]:
    import importlib

    module = importlib.import_module(module_name)
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def sensitivity(sets: Sequence[str]) -> dict[str, object]:
    """F1/P/R of each set with each constant at -25% and +25% (integers rounded)."""
    import importlib

    from topics.evaluation import evaluate

    articles = {name: read_set(name) for name in sets}
    table: dict[str, object] = {}
    for module_name, name in CONSTANTS:
        default = getattr(importlib.import_module(module_name), name)
        for factor in (0.75, 1.25):
            value = round(default * factor) if isinstance(default, int) else default * factor
            row: dict[str, object] = {}
            with patched(module_name, name, value):
                for set_name, labelled in articles.items():
                    report, _ = evaluate(labelled)
                    row[set_name] = [
                        report["bcubed_f1"],
                        report["bcubed_precision"],
                        report["bcubed_recall"],
                    ]
            table[f"{name}={round(value, 4)}"] = row
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="Run only these variants.")
    parser.add_argument("--no-baseline", action="store_true", help="Skip the TF-IDF baseline.")
    parser.add_argument(
        "--seed",
        type=int,
        default=SEED,
        help="Draw the variants with another seed (neus_redrawn with seeds 1-3: another layout).",
    )
    parser.add_argument(
        "--sensitivity", action="store_true", help="The ±25%% table instead of the variants."
    )
    args = parser.parse_args()
    missing = [name for name in ("neus_dev", "basil") if not (DATA / f"{name}.jsonl").exists()]
    if missing:
        sys.exit(
            f"{DATA} lacks {', '.join(missing)}.jsonl: the labelled sets live beside the "
            "project in ../shared/data/clustering (see its README)."
        )
    setup_django()
    if args.sensitivity:
        print(json.dumps(sensitivity(["neus_dev", "basil"]), indent=2))
        return
    cases = [c for c in CASES if not args.only or c.name in args.only]
    started = time.process_time()
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="daybrief-robustness-") as folder:
        for case in cases:
            result[case.name] = score_case(case, Path(folder), not args.no_baseline, args.seed)
            print(case.name, json.dumps(result[case.name]), file=sys.stderr, flush=True)
    result["cpu_s"] = round(time.process_time() - started, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
