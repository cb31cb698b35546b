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
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from scipy import sparse

from topics.duplicates import near_duplicate_links
from topics.merging import MERGE_PASS_THRESHOLD, MERGE_YOUNG_HOURS, plan_merges
from topics.models import Article, Topic, new_cluster_id
from topics.pagecache import pages_changed
from topics.vectorize import vectorize

# Two groups are one story when the mean cosine similarity over their member pairs reaches this.
MERGE_THRESHOLD = 0.13
# Similarity fades for articles published further apart than the grace period: most stories
# are covered within hours, and a saga's next event days later is a new story.
TIME_GRACE_HOURS = 8.0
TIME_DECAY_HOURS = 6.0
# A follow-up days later that repeats the story's names and facts this closely is the same
# story (a trial over three days, a drought with daily reports): it fades only mildly.
FOLLOW_UP_SIMILARITY = 0.25
FOLLOW_UP_GRACE_HOURS = 12.0
FOLLOW_UP_DECAY_HOURS = 48.0
# How far off a date-only publication time may be (see publication_hours).
DATE_ONLY_SLACK_HOURS = 24.0
# Two groups of several articles each merge only if their mean similarity is at least this share
# of the looser group's own mean: two tight stories that share a subject stay apart. Not higher:
# the cross mean is time-faded and the groups' own means are not, so at 0.7 a first run over
# three days split the demo's drought story (its days-apart reports) in two.
GROUP_SEPARATION = 0.5
# At most this many new articles are placed at once (see plan_in_batches).
BATCH_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class ClusterResult:
    topic_ids: list[int]
    placed: int = 0
    created: int = 0
    merged: int = 0


@dataclasses.dataclass
class Plan:
    """Where the new articles go: item indexes per existing topic, and groups for new topics."""

    joins: dict[int, list[int]]
    groups: list[list[int]]


def plan_window(
    titles: list[str],
    texts: list[str],
    hours: np.ndarray,
    topic_of: list[int | None],
    is_new: list[bool],
    slack: np.ndarray | None = None,
) -> Plan:
    """Where the window's new articles go, given its settled ones (see plan_placement)."""
    return plan_in_batches(vectorize(titles, texts), hours, topic_of, is_new, slack=slack)


def publication_hours(published: list[dt.datetime]) -> tuple[np.ndarray, np.ndarray]:
    """Publication times in hours, and how many hours each may be off.

    A time of exactly midnight UTC is what a feed that gives only a date parses to: such an
    article may have appeared any time that day, so time gaps to it are read a day shorter.
    """
    hours = np.array([p.timestamp() / 3600 for p in published], dtype=np.float64)
    slack = np.array([DATE_ONLY_SLACK_HOURS if _is_date_only(p) else 0.0 for p in published])
    return hours, slack


def _is_date_only(moment: dt.datetime) -> bool:
    return moment.astimezone(dt.UTC).time() == dt.time()


def cluster_recent(now: dt.datetime) -> ClusterResult:
    """Place the window's unplaced articles into topics.

    The result lists every topic that now needs enrichment: the ones this run created or gave
    new members, and any an editor changed since the last enrichment (needs_enrichment).
    """
    articles = _window_articles(now)
    placed = created = merged = 0
    if any(_is_unplaced(a) for a in articles):
        topic_of = [_candidate_topic(a) for a in articles]
        is_new = [_is_unplaced(a) for a in articles]
        hours, slack = publication_hours([a.published_at for a in articles])
        vectors = vectorize([a.title for a in articles], [a.text for a in articles])
        plan = plan_in_batches(vectors, hours, topic_of, is_new, slack=slack)
        placed, created = _apply(plan, articles)
        merged = merge_young_topics(now, articles, vectors, hours)
        if placed or merged:
            pages_changed()
    pending = Topic.objects.filter(needs_enrichment=True).order_by("pk")
    return ClusterResult(list(pending.values_list("pk", flat=True)), placed, created, merged)


def merge_young_topics(
    now: dt.datetime, articles: list[Article], vectors: sparse.csr_matrix, hours: np.ndarray
) -> int:
    """Merge the window's young, untouched topics that are one story; returns topics merged away.

    Runs after placement, which is when topics grow enough to show they belong together.
    """
    current = dict(
        Article.objects.filter(pk__in=[a.pk for a in articles]).values_list("pk", "topic_id")
    )
    topic_of = [current.get(a.pk) for a in articles]
    mergeable = _mergeable_topics(now, articles[0].published_at if articles else now)
    merges = plan_merges(vectors, hours, topic_of, mergeable, MERGE_PASS_THRESHOLD, time_faded)
    merged = 0
    with transaction.atomic():
        for survivor, others in merges:
            merged += _merge_into(survivor, others)
    return merged


def _mergeable_topics(now: dt.datetime, window_start: dt.datetime) -> set[int]:
    """Topics still growing, wholly inside the window, that no editor has touched."""
    young = now - dt.timedelta(hours=MERGE_YOUNG_HOURS)
    touched = Article.objects.filter(topic=OuterRef("pk")).filter(
        Q(topic_locked=True) | Q(published_at__lt=window_start)
    )
    recent = Article.objects.filter(topic=OuterRef("pk"), published_at__gte=young)
    topics = Topic.objects.filter(is_locked=False).filter(Exists(recent)).exclude(Exists(touched))
    return set(topics.values_list("pk", flat=True))


def _merge_into(survivor: int, others: list[int]) -> int:
    """Move the others' articles into the survivor unless an editor locked something meanwhile."""
    if Topic.objects.filter(pk__in=[survivor, *others], is_locked=True).exists():
        return 0
    if Article.objects.filter(topic_id__in=others, topic_locked=True).exists():
        return 0
    Article.objects.filter(topic_id__in=others).update(topic_id=survivor)
    # The emptied topics stay (a digest may list them); enrichment gives them no articles.
    Topic.objects.filter(pk__in=[survivor, *others]).update(needs_enrichment=True)
    return len(others)


def plan_in_batches(
    vectors: sparse.csr_matrix,
    hours: np.ndarray,
    topic_of: list[int | None],
    is_new: list[bool],
    batch_size: int = BATCH_SIZE,
    slack: np.ndarray | None = None,
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
        plan = plan_placement(
            vectors, hours, labels, [i in batch for i in range(len(labels))], slack=slack
        )
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
    threshold: float | None = None,
    slack: np.ndarray | None = None,
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
    gaps = np.abs(hours[new_idx, None] - hours[None, :])
    if slack is not None and slack.any():
        slack = slack.astype(np.float32)
        gaps = np.maximum(gaps - np.maximum(slack[new_idx, None], slack[None, :]), 0.0)
    similarity = time_faded(similarity, gaps)
    inner = _topic_inner_sums(vectors, topic_of, topic_ids)
    merger = _Merger(similarity, new_idx, topic_of, topic_ids, inner)
    takes_members = np.array([t is not None for t in topic_of]) | np.asarray(is_new)
    merger.collapse(near_duplicate_links(similarity, new_idx, takes_members))
    merger.run(MERGE_THRESHOLD if threshold is None else threshold)
    return merger.plan()


def time_faded(similarity: np.ndarray, gap_hours: np.ndarray) -> np.ndarray:
    """Discount similarity between articles far apart in time, unless it is a close follow-up.

    Same-shaped arrays; the result is a new array of the similarities after the fade.
    """
    late = np.maximum(gap_hours - TIME_GRACE_HOURS, 0.0)
    fade = np.exp(-late / TIME_DECAY_HOURS)
    follow_up = similarity >= FOLLOW_UP_SIMILARITY
    if follow_up.any():
        late_ok = np.maximum(gap_hours[follow_up] - FOLLOW_UP_GRACE_HOURS, 0.0)
        fade[follow_up] = np.maximum(fade[follow_up], np.exp(-late_ok / FOLLOW_UP_DECAY_HOURS))
    return similarity * fade


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
        topic_inner: np.ndarray,
    ) -> None:
        m, k = len(new_idx), len(topic_ids)
        self.new_idx, self.topic_ids = [int(i) for i in new_idx], topic_ids
        self.members: list[list[int]] = [[i] for i in range(m)]
        self.joined_to: list[int | None] = [None] * m
        self.merged_into: list[int | None] = [None] * m
        self.column_of_item = {int(i): row for row, i in enumerate(new_idx)}
        self.sizes = np.ones(m + k, dtype=np.float64)
        sums = np.zeros((m, m + k), dtype=np.float64)
        sums[:, :m] = similarity[:, new_idx]
        if k:
            column = {t: j for j, t in enumerate(topic_ids)}
            pairs = [(i, column[t]) for i, t in enumerate(topic_of) if t in column]
            self.column_of_item.update((i, m + j) for i, j in pairs)
            rows, cols = zip(*pairs, strict=True)
            indicator = sparse.csr_matrix(
                (np.ones(len(pairs)), (rows, cols)), shape=(similarity.shape[1], k)
            )
            self.sizes[m:] = np.asarray(indicator.sum(axis=0)).ravel()
            sums[:, m:] = (indicator.T @ similarity.T).T
        self.sums = sums
        self.inner = np.concatenate([np.zeros(m), topic_inner])
        self.alive = np.ones(m, dtype=bool)
        self.best = np.full(m, -np.inf)
        self.best_col = np.zeros(m, dtype=np.int64)
        for row in range(m):
            self._refresh_row(row)

    def _means(self, row: int) -> np.ndarray:
        means = self.sums[row] / (self.sizes[row] * self.sizes)
        means[row] = -np.inf
        means[: len(self.alive)][~self.alive] = -np.inf
        cohesion = self._cohesion()
        means[means < GROUP_SEPARATION * np.minimum(cohesion[row], cohesion)] = -np.inf
        return means

    def _cohesion(self) -> np.ndarray:
        """Each group's mean similarity over its own pairs; NaN for a single article."""
        pairs = self.sizes * (self.sizes - 1) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.sizes > 1, self.inner / pairs, np.nan)

    def _refresh_row(self, row: int) -> None:
        means = self._means(row)
        self.best_col[row] = int(np.argmax(means))
        self.best[row] = means[self.best_col[row]]

    def collapse(self, links: list[tuple[int, int]]) -> None:
        """Join near-duplicates (row, window item) before anything else."""
        m = len(self.alive)
        for row, item in links:
            a, b = sorted((self._owner(row), self._owner(self.column_of_item[item])))
            if a == b or a >= m:
                continue  # already together, or both in existing topics, which never merge
            if b < m:
                self._merge_new(a, b)
            else:
                self._join_topic(a, b)

    def _owner(self, col: int) -> int:
        """The column that stands for `col`'s group now: itself, its new group or its topic."""
        while col < len(self.alive) and not self.alive[col]:
            moved = self.joined_to[col]
            col = moved if moved is not None else self.merged_into[col]  # type: ignore[assignment]
        return col

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
        self.inner[keep] += self.inner[gone] + self.sums[keep, gone]
        self.sums[keep] += self.sums[gone]
        self.sums[:, keep] += self.sums[:, gone]
        self.sizes[keep] += self.sizes[gone]
        self.members[keep] += self.members[gone]
        self.merged_into[gone] = keep
        self._retire(gone)
        self._after_column_change([keep, gone], keep)
        self._refresh_row(keep)  # the grown group's own similarities all changed

    def _join_topic(self, row: int, col: int) -> None:
        self.inner[col] += self.inner[row] + self.sums[row, col]
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
        cohesion = self._cohesion()
        apart = means < GROUP_SEPARATION * np.minimum(cohesion[rows], cohesion[changed])
        means[apart] = -np.inf
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


def _topic_inner_sums(
    vectors: sparse.csr_matrix, topic_of: list[int | None], topic_ids: list[int]
) -> np.ndarray:
    """Per topic, the sum of its members' pairwise similarities (from their summed vector)."""
    column = {t: j for j, t in enumerate(topic_ids)}
    items = [i for i, t in enumerate(topic_of) if t in column]
    cols = [column[topic_of[i]] for i in items]  # type: ignore[index]
    member_of = sparse.csr_matrix(
        (np.ones(len(items)), (cols, items)), shape=(len(topic_ids), vectors.shape[0])
    )
    summed = member_of @ vectors
    self_sims = member_of @ np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel()
    return (np.asarray(summed.multiply(summed).sum(axis=1)).ravel() - self_sims) / 2


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
    try:
        return _write_plan(plan, articles)
    except IntegrityError:
        # A concurrent run (another worker host) founded the same topics: cluster ids come
        # from the founding articles, and PostgreSQL held our insert until that run
        # committed. Its placement stands; what it left unplaced waits for the next run.
        return 0, 0


def _write_plan(plan: Plan, articles: list[Article]) -> tuple[int, int]:
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
