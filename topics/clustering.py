"""Group articles into topics, one topic per real-world story.

Each run looks at the articles published in the last DAYBRIEF_CLUSTER_WINDOW_HOURS and places
the ones that have no topic yet. Placement is average-link agglomeration over TF-IDF cosine
similarity in which the window's existing topics are fixed groups: a new article (or a group of
new articles) joins an existing topic or other new articles, never the other way round, so
topics already shown to readers keep their members, their pk and their cluster id.
"""

import dataclasses
import datetime as dt
import hashlib
from collections import defaultdict

import numpy as np
from django.conf import settings
from django.db import transaction
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from topics.models import Article, Topic, new_cluster_id

# Two groups are one story when the mean cosine similarity over their member pairs reaches this.
MERGE_THRESHOLD = 0.09
# Titles carry most of the story in a feed item, so they count more than the body.
TITLE_REPEAT = 2
# A cap that keeps vectorizing cheap; generous, because full texts cluster better than leads.
TEXT_CHARS = 20000
# Similarity fades for articles published further apart than the grace period.
TIME_GRACE_HOURS = 12.0
TIME_DECAY_HOURS = 48.0
# At most this many new articles are placed at once (see plan_in_batches).
BATCH_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class ClusterResult:
    topic_ids: list[int]
    placed: int = 0
    created: int = 0


@dataclasses.dataclass
class Plan:
    """Where the new articles go: item indexes per existing topic, and groups for new topics."""

    joins: dict[int, list[int]]
    groups: list[list[int]]


def document_for(title: str, text: str) -> str:
    return " ".join([title] * TITLE_REPEAT + [text[:TEXT_CHARS]])


def vectorize(documents: list[str]) -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows; all-zero rows when nothing in the documents is a word."""
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2),
        sublinear_tf=True,
        stop_words="english",
        strip_accents="unicode",
        dtype=np.float32,
    )
    try:
        return vectorizer.fit_transform(documents).tocsr()
    except ValueError:  # empty vocabulary: only stop words, numbers or nothing at all
        return sparse.csr_matrix((len(documents), 1), dtype=np.float32)


def cluster_recent(now: dt.datetime) -> ClusterResult:
    """Place the window's unplaced articles into topics.

    The result lists every topic that now needs enrichment: the ones this run created or gave
    new members, and any an editor changed since the last enrichment (needs_enrichment).
    """
    articles = _window_articles(now)
    placed = created = 0
    if any(_is_unplaced(a) for a in articles):
        topic_of = [_candidate_topic(a) for a in articles]
        is_new = [_is_unplaced(a) for a in articles]
        vectors = vectorize([document_for(a.title, a.text) for a in articles])
        hours = np.array([a.published_at.timestamp() / 3600 for a in articles])
        placed, created = _apply(plan_in_batches(vectors, hours, topic_of, is_new), articles)
    pending = Topic.objects.filter(needs_enrichment=True).order_by("pk")
    return ClusterResult(list(pending.values_list("pk", flat=True)), placed, created)


def plan_in_batches(
    vectors: sparse.csr_matrix,
    hours: np.ndarray,
    topic_of: list[int | None],
    is_new: list[bool],
    batch_size: int = BATCH_SIZE,
) -> Plan:
    """plan_placement for at most `batch_size` new items at a time, oldest first.

    Each batch sees the groups earlier ones formed as existing topics, as if the service had
    run in between. That bounds memory on a first run over a full window.
    """
    labels = list(topic_of)
    pending = list(np.flatnonzero(is_new))
    next_label = -1  # negative labels stand for topics not created yet
    for start in range(0, len(pending), batch_size):
        batch = set(pending[start : start + batch_size])
        plan = plan_placement(vectors, hours, labels, [i in batch for i in range(len(labels))])
        for topic, items in plan.joins.items():
            for i in items:
                labels[i] = topic
        for group in plan.groups:
            for i in group:
                labels[i] = next_label
            next_label -= 1
    joins: dict[int, list[int]] = defaultdict(list)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in pending:
        label = labels[i]
        assert label is not None  # every pending item was placed by its batch
        (joins if label > 0 else groups)[label].append(int(i))
    return Plan(joins=dict(joins), groups=sorted(groups.values()))


def plan_placement(
    vectors: sparse.csr_matrix,
    hours: np.ndarray,
    topic_of: list[int | None],
    is_new: list[bool],
    threshold: float = MERGE_THRESHOLD,
) -> Plan:
    """Average-link agglomeration of the new items, with existing topics as fixed groups.

    `hours[i]` is item i's publication time in hours (any origin), `topic_of[i]` the topic it
    may be joined to (None if that topic takes no members), `is_new[i]` whether it is to be
    placed. Deterministic: ties go to the earliest index.
    """
    new_idx = np.flatnonzero(is_new)
    topic_ids = sorted({t for t, flag in zip(topic_of, is_new, strict=True) if t and not flag})
    similarity = (vectors[new_idx] @ vectors.T).toarray()
    hours = (hours - hours.min()).astype(np.float32)  # float32 halves the m×n matrices
    similarity *= time_factor(np.abs(hours[new_idx, None] - hours[None, :]))
    merger = _Merger(similarity, new_idx, topic_of, topic_ids)
    merger.run(threshold)
    return merger.plan()


def time_factor(gap_hours: np.ndarray) -> np.ndarray:
    """Discount similarity between articles far apart in time: most stories run a day or two."""
    late = np.maximum(gap_hours - TIME_GRACE_HOURS, 0.0)
    return np.exp(-late / TIME_DECAY_HOURS)


class _Merger:
    """Greedy average-link merging on a dense matrix of group similarities.

    Rows are the new groups; columns are the new groups, then the existing topics. Sums of
    pairwise similarities are kept (not means) so a merge is a row or column addition.
    """

    def __init__(
        self,
        similarity: np.ndarray,
        new_idx: np.ndarray,
        topic_of: list[int | None],
        topic_ids: list[int],
    ) -> None:
        m, k = len(new_idx), len(topic_ids)
        self.new_idx, self.topic_ids = [int(i) for i in new_idx], topic_ids
        self.members: list[list[int]] = [[i] for i in range(m)]
        self.joined_to: list[int | None] = [None] * m
        self.sizes = np.ones(m + k, dtype=np.float64)
        sums = np.zeros((m, m + k), dtype=np.float64)
        sums[:, :m] = similarity[:, new_idx]
        if k:
            column = {t: j for j, t in enumerate(topic_ids)}
            pairs = [(i, column[t]) for i, t in enumerate(topic_of) if t in column]
            rows, cols = zip(*pairs, strict=True)
            indicator = sparse.csr_matrix(
                (np.ones(len(pairs)), (rows, cols)), shape=(similarity.shape[1], k)
            )
            self.sizes[m:] = np.asarray(indicator.sum(axis=0)).ravel()
            sums[:, m:] = (indicator.T @ similarity.T).T
        self.sums = sums
        self.alive = np.ones(m, dtype=bool)
        self.best = np.full(m, -np.inf)
        self.best_col = np.zeros(m, dtype=np.int64)
        for row in range(m):
            self._refresh_row(row)

    def _means(self, row: int) -> np.ndarray:
        means = self.sums[row] / (self.sizes[row] * self.sizes)
        means[row] = -np.inf
        means[: len(self.alive)][~self.alive] = -np.inf
        return means

    def _refresh_row(self, row: int) -> None:
        means = self._means(row)
        self.best_col[row] = int(np.argmax(means))
        self.best[row] = means[self.best_col[row]]

    def run(self, threshold: float) -> None:
        m = len(self.alive)
        while m and self.best.max() >= threshold:
            row = int(np.argmax(self.best))
            col = int(self.best_col[row])
            if col < m:
                self._merge_new(min(row, col), max(row, col))
            else:
                self._join_topic(row, col)

    def _merge_new(self, keep: int, gone: int) -> None:
        self.sums[keep] += self.sums[gone]
        self.sums[:, keep] += self.sums[:, gone]
        self.sizes[keep] += self.sizes[gone]
        self.members[keep] += self.members[gone]
        self._retire(gone)
        self._after_column_change([keep, gone], keep)
        self._refresh_row(keep)  # the grown group's own similarities all changed

    def _join_topic(self, row: int, col: int) -> None:
        self.sums[:, col] += self.sums[:, row]
        self.sizes[col] += self.sizes[row]
        self.joined_to[row] = col
        self._retire(row)
        self._after_column_change([row, col], col)

    def _retire(self, row: int) -> None:
        self.alive[row] = False
        self.best[row] = -np.inf
        self.sums[row] = 0.0
        self.sums[:, row] = 0.0

    def _after_column_change(self, stale: list[int], changed: int) -> None:
        rows = np.flatnonzero(self.alive)
        if not len(rows):
            return
        # A row whose best partner was merged away or diluted must look again...
        for row in rows[np.isin(self.best_col[rows], stale)]:
            self._refresh_row(int(row))
        # ...and any row may now prefer the grown group.
        means = self.sums[rows, changed] / (self.sizes[rows] * self.sizes[changed])
        means[rows == changed] = -np.inf
        better = means > self.best[rows]
        self.best[rows[better]] = means[better]
        self.best_col[rows[better]] = changed

    def plan(self) -> Plan:
        m = len(self.alive)
        joins: dict[int, list[int]] = defaultdict(list)
        groups: list[list[int]] = []
        for row in range(m):
            items = sorted(self.new_idx[i] for i in self.members[row])
            if self.joined_to[row] is not None:
                joins[self.topic_ids[self.joined_to[row] - m]] += items
            elif self.alive[row]:
                groups.append(items)
        return Plan(joins={t: sorted(items) for t, items in joins.items()}, groups=sorted(groups))


def _window_articles(now: dt.datetime) -> list[Article]:
    hours = settings.DAYBRIEF_CLUSTER_WINDOW_HOURS
    return list(
        Article.objects.in_window(now, hours)
        .select_related("topic")
        .only(
            "pk", "source_id", "identity", "title", "text", "published_at",
            "topic_locked", "topic__is_locked",
        )
        .order_by("published_at", "pk")
    )  # fmt: skip


def _is_unplaced(article: Article) -> bool:
    return article.topic_id is None and not article.topic_locked


def _candidate_topic(article: Article) -> int | None:
    if article.topic_id is None or article.topic.is_locked:
        return None
    return article.topic_id


def _apply(plan: Plan, articles: list[Article]) -> tuple[int, int]:
    """Write the plan; returns (articles placed, topics created)."""
    changed: list[int] = []
    placed = created = 0
    with transaction.atomic():
        for topic_id, items in plan.joins.items():
            claimed = _claim([articles[i].pk for i in items], topic_id)
            placed += claimed
            if claimed:
                changed.append(topic_id)
        founders = [articles[group[0]] for group in plan.groups]
        new_topics = Topic.objects.bulk_create(
            [Topic(cluster_id=cid) for cid in _cluster_ids_for(founders)]
        )
        for topic, group in zip(new_topics, plan.groups, strict=True):
            claimed = _claim([articles[i].pk for i in group], topic.pk)
            if claimed:
                placed, created = placed + claimed, created + 1
                changed.append(topic.pk)
            else:  # a concurrent run placed these articles first
                topic.delete()
        Topic.objects.filter(pk__in=changed).update(needs_enrichment=True)
    return placed, created


def _claim(article_ids: list[int], topic_id: int) -> int:
    """Put still-unplaced articles in the topic; the count tells how many were still free."""
    return Article.objects.filter(
        pk__in=article_ids, topic__isnull=True, topic_locked=False
    ).update(topic_id=topic_id)


def _cluster_ids_for(founders: list[Article]) -> list[str]:
    """Derive each new topic's id from its first article, so a replay yields the same ids."""
    wanted = [
        hashlib.sha256(f"{a.source_id}:{a.identity}".encode()).hexdigest()[:10] for a in founders
    ]
    taken = set(Topic.objects.filter(cluster_id__in=wanted).values_list("cluster_id", flat=True))
    ids: list[str] = []
    for candidate in wanted:
        while candidate in taken:
            candidate = new_cluster_id()
        taken.add(candidate)
        ids.append(candidate)
    return ids
