"""Group articles into topics, one topic per real-world story.

Each run looks at the articles published in the last DAYBRIEF_CLUSTER_WINDOW_HOURS and places
the ones that have no topic yet. Placement is average-link agglomeration over TF-IDF cosine
similarity in which the window's existing topics are fixed groups: a new article (or a group of
new articles) joins an existing topic or other new articles, never the other way round, so
topics already shown to readers keep their members, their pk and their cluster id. The
threshold rises in a crowded window, where chance matches between stories are likelier.
"""

import dataclasses
import datetime as dt
import hashlib
import math
from collections import defaultdict

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from scipy import sparse
from threadpoolctl import threadpool_limits

from topics.duplicates import find_near_duplicates
from topics.merging import MERGE_PASS_THRESHOLD, MERGE_YOUNG_HOURS, plan_merges
from topics.models import Article, Topic, new_cluster_id
from topics.pagecache import pages_changed
from topics.placement import Merger, Plan, Times, reachable_topics
from topics.similarity import Vectors, dot_products
from topics.weighing import vectorize, weighed_vectors
from topics.window import WindowArticle, load_window

# Two groups are one story when the mean cosine similarity over their member pairs reaches this.
MERGE_THRESHOLD = 0.10
# ...in a window where an article competes with up to CROWD_REFERENCE others published in the
# grace period before it (neus_dev: about 100). The more compete, the likelier one of another
# story on the same subject reaches the threshold by chance: it rises with each doubling...
CROWD_REFERENCE = 120
CROWD_RISE_PER_DOUBLING = 0.02
# ...up to two (measured up to four times neus_dev's stories a day). Articles are counted, not
# stories: a service whose stories each draw many feeds looks crowded when it is not.
CROWD_MAX_DOUBLINGS = 2.0
# Similarity fades for articles published further apart than the grace period: most stories
# are covered within hours, and a saga's next event days later is a new story.
TIME_GRACE_HOURS = 6.0
TIME_DECAY_HOURS = 6.0
# A follow-up days later that repeats the story's names and facts this closely is the same
# story (a trial over three days, a drought with daily reports): it fades only mildly.
FOLLOW_UP_SIMILARITY = 0.3
FOLLOW_UP_GRACE_HOURS = 12.0
FOLLOW_UP_DECAY_HOURS = 48.0
# A pair just under that bar is told apart from a loose match by degrees, not by a step: over
# this much similarity below the bar its grace period and decay grow in step with it (stories
# whose reports spread over 36 hours keep more of their late ones; see docs/clustering.md). Both
# follow-up figures are at least the strong fade's, so the fade never shrinks as similarity grows.
FOLLOW_UP_RAMP_WIDTH = 0.03
# How far off a date-only publication time may be (see publication_hours).
DATE_ONLY_SLACK_HOURS = 24.0
# Two groups of several articles each merge only if their mean similarity is at least this share
# of the looser group's own mean: two tight stories that share a subject stay apart...
GROUP_SEPARATION = 0.8
# ...unless their mean before the time fade reaches this: the cross mean is time-faded and the
# groups' own means are not, so without it a first run over three days split the demo's drought
# story (its days-apart reports, unfaded mean 0.37) in two.
SAME_STORY_SIMILARITY = 0.3
# At most this many new articles are placed at once (see plan_in_batches).
BATCH_SIZE = 1000
# Threads for BLAS (the dense products) while placing and merging. A few large products leave
# OpenBLAS's second thread spinning, waiting for work, while the sparse products run on two
# threads of their own: on the 10,000-article day one thread saved about 1.5 s of 7 s CPU.
# On an idle machine two finish about 0.2 s (4%) sooner, but a worker shares its cores with
# the web and other workers, to whom that spinning is lost.
BLAS_THREADS = 1
# Articles claimed in one statement when writing a plan.
WRITE_BATCH = 2000

_ARTICLES = Article._meta.db_table
# Claiming in plain SQL: the ORM's Case/When over 2,000 pks cost ~0.1 s of CPU to build per
# statement. VALUES rows are (article pk, topic pk), columns both databases name column1, column2.
CLAIM_SQL = (
    f"UPDATE {_ARTICLES} SET topic_id = wanted.column2 FROM (VALUES {{rows}}) AS wanted "
    f"WHERE {_ARTICLES}.id = wanted.column1 AND {_ARTICLES}.topic_id IS NULL "
    f"AND NOT {_ARTICLES}.topic_locked RETURNING {_ARTICLES}.id, {_ARTICLES}.topic_id"
)


@dataclasses.dataclass(frozen=True)
class ClusterResult:
    topic_ids: list[int]
    placed: int = 0
    created: int = 0
    merged: int = 0


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
    window_hours = settings.DAYBRIEF_CLUSTER_WINDOW_HOURS
    placed = created = merged = 0
    if _unplaced(now, window_hours).exists():
        window = load_window(now, window_hours)
        articles = window.articles
        topic_of = [_candidate_topic(a) for a in articles]
        is_new = [_is_unplaced(a) for a in articles]
        hours, slack = publication_hours([a.published_at for a in articles])
        # What vectorize(titles, texts) gives, from the stored counts, which are then let go
        # (some 90 MB for a full window).
        vectors = weighed_vectors(window.counts)
        del window
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            plan = plan_in_batches(vectors, hours, topic_of, is_new, slack=slack)
            placed, created = _apply(plan, articles)
            merged = merge_young_topics(now, articles, vectors, hours)
        if placed or merged:
            pages_changed()
    pending = Topic.objects.filter(needs_enrichment=True).order_by("pk")
    return ClusterResult(list(pending.values_list("pk", flat=True)), placed, created, merged)


def merge_young_topics(
    now: dt.datetime,
    articles: list[WindowArticle],
    vectors: Vectors | sparse.csr_matrix,
    hours: np.ndarray,
) -> int:
    """Merge the window's young, untouched topics that are one story; returns topics merged away.

    Runs after placement, which is when topics grow enough to show they belong together.
    """
    window_start = articles[0].published_at if articles else now
    in_window = Article.objects.filter(published_at__gte=window_start)
    current = dict(in_window.values_list("pk", "topic_id"))
    topic_of = [current.get(a.pk) for a in articles]
    mergeable = _mergeable_topics(now, window_start)
    # The topics this run joined or created: the ones its newly placed articles are now in.
    changed = {t for a, t in zip(articles, topic_of, strict=True) if _is_unplaced(a) and t}
    merges = plan_merges(
        vectors, hours, topic_of, mergeable, changed, MERGE_PASS_THRESHOLD, time_faded
    )
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
    vectors: Vectors | sparse.csr_matrix,
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
    vectors = Vectors.of(vectors)  # split once for all batches
    # The same for every batch: the items' times and their vectors' squared lengths.
    times, norms = Times(hours, slack, time_fade), vectors.squared_norms()
    labels = list(topic_of)
    pending = list(np.flatnonzero(is_new))
    next_label = -1  # negative labels stand for topics not created yet
    for start in range(0, len(pending), batch_size):
        in_batch = np.zeros(len(labels), dtype=bool)
        in_batch[pending[start : start + batch_size]] = True
        plan = _plan_batch(vectors, times, norms, labels, in_batch.tolist(), None)
        for topic, items in plan.joins.items():
            for i in items:
                labels[i] = topic
        for group in plan.groups:
            for i in group:
                labels[i] = next_label
            next_label -= 1
    joins: dict[int, list[int]] = defaultdict(list)
    groups: dict[int, list[int]] = defaultdict(list)
    for item in pending:
        label = labels[item]
        assert label is not None  # every pending item was placed by its batch
        (joins if label > 0 else groups)[label].append(int(item))
    return Plan(joins=dict(joins), groups=sorted(groups.values()))


def plan_placement(
    vectors: Vectors | sparse.csr_matrix,
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
    vectors = Vectors.of(vectors)
    times = Times(hours, slack, time_fade)
    return _plan_batch(vectors, times, vectors.squared_norms(), topic_of, is_new, threshold)


def _plan_batch(
    vectors: Vectors,
    times: Times,
    norms: np.ndarray,
    topic_of: list[int | None],
    is_new: list[bool],
    threshold: float | None,
) -> Plan:
    """plan_placement, given the items' Times and squared lengths (`norms`)."""
    new_idx = np.flatnonzero(is_new)
    threshold = crowded_threshold(times, new_idx) if threshold is None else threshold
    new = vectors.rows(new_idx)
    unfaded = dot_products(new, new)
    within = times.faded(unfaded, new_idx, new_idx)
    takes_members = np.array([t is not None for t in topic_of]) | np.asarray(is_new)
    links = find_near_duplicates(vectors, times, new_idx, takes_members)
    linked = {t for _, item in links if (t := topic_of[item]) is not None and not is_new[item]}
    topics = reachable_topics(vectors, norms, new, times, topic_of, is_new, threshold, linked)
    merger = Merger(
        within, new_idx, topics, GROUP_SEPARATION, unfaded=unfaded, same_story=SAME_STORY_SIMILARITY
    )
    merger.collapse(_link_columns(links, new_idx, topic_of, topics.ids))
    merger.run(threshold)
    return merger.plan()


def _link_columns(
    links: list[tuple[int, int]], new_idx: np.ndarray, topic_of: list[int | None], ids: list[int]
) -> list[tuple[int, int]]:
    """Near-duplicate links (row, window item) as (row, Merger column)."""
    column = {int(i): row for row, i in enumerate(new_idx)}
    topic_column = {t: len(new_idx) + j for j, t in enumerate(ids)}
    return [
        (row, column[item] if item in column else topic_column[topic_of[item]])  # type: ignore[index]
        for row, item in links
    ]


def crowded_threshold(times: Times, new_idx: np.ndarray) -> float:
    """MERGE_THRESHOLD, raised for a crowded window (see CROWD_REFERENCE) by how many articles
    the typical new one competes with."""
    if not len(new_idx):
        return MERGE_THRESHOLD
    crowd = float(np.median(_competitors(times, new_idx)))
    doublings = min(max(0.0, math.log2(max(crowd, 1.0) / CROWD_REFERENCE)), CROWD_MAX_DOUBLINGS)
    return MERGE_THRESHOLD + CROWD_RISE_PER_DOUBLING * doublings


def _competitors(times: Times, rows: np.ndarray) -> np.ndarray:
    """Per row item, how many window items were published in the grace period before it, as
    the fade reads gaps (a date-only time may be a day off). Only earlier ones: a run meets
    an article before what follows it, and a replay must count as the service does."""
    counts = np.zeros(len(rows))
    for slack in np.unique(times.slack):
        at = np.sort(times.hours[times.slack == slack])
        widest = np.maximum(times.slack[rows], slack)
        latest = np.searchsorted(at, times.hours[rows] + widest, side="right")
        counts += latest - np.searchsorted(at, times.hours[rows] - TIME_GRACE_HOURS - widest)
    return counts - 1  # not itself


def time_fade(similarity: np.ndarray, gap_hours: np.ndarray) -> np.ndarray:
    """How much similarity fades between articles far apart in time, unless it is a close
    follow-up: a factor per pair (same-shaped arrays), 1 within the grace period. Over the
    FOLLOW_UP_RAMP_WIDTH below FOLLOW_UP_SIMILARITY the grace period and decay move from the
    strong fade's to the follow-up's in proportion to the similarity."""
    late = np.maximum(gap_hours - TIME_GRACE_HOURS, 0.0)
    fade = np.exp(-late / TIME_DECAY_HOURS)
    ramp_from = FOLLOW_UP_SIMILARITY - FOLLOW_UP_RAMP_WIDTH
    close = similarity >= ramp_from
    if close.any():
        similar = similarity[close]
        # At the bar exactly the follow-up's, whatever float32 rounding makes of the ramp.
        share = np.where(
            similar >= FOLLOW_UP_SIMILARITY, 1.0, (similar - ramp_from) / FOLLOW_UP_RAMP_WIDTH
        )
        grace = TIME_GRACE_HOURS + share * (FOLLOW_UP_GRACE_HOURS - TIME_GRACE_HOURS)
        decay = TIME_DECAY_HOURS + share * (FOLLOW_UP_DECAY_HOURS - TIME_DECAY_HOURS)
        fade[close] = np.exp(-np.maximum(gap_hours[close] - grace, 0.0) / decay)
    return fade


def time_faded(similarity: np.ndarray, gap_hours: np.ndarray) -> np.ndarray:
    """The similarities after the time fade (see time_fade), as a new array."""
    return similarity * time_fade(similarity, gap_hours)


def _unplaced(now: dt.datetime, hours: int) -> QuerySet[Article]:
    return Article.objects.in_window(now, hours).filter(topic__isnull=True, topic_locked=False)


def _is_unplaced(article: WindowArticle) -> bool:
    return article.topic_id is None and not article.topic_locked


def _candidate_topic(article: WindowArticle) -> int | None:
    if article.topic_id is None or article.topic_is_locked:
        return None
    return article.topic_id


def _apply(plan: Plan, articles: list[WindowArticle]) -> tuple[int, int]:
    """Write the plan; returns (articles placed, topics created)."""
    try:
        return _write_plan(plan, articles)
    except IntegrityError:
        # A concurrent run (another worker host) founded the same topics: cluster ids come
        # from the founding articles, and PostgreSQL held our insert until that run
        # committed. Its placement stands; what it left unplaced waits for the next run.
        return 0, 0


def _write_plan(plan: Plan, articles: list[WindowArticle]) -> tuple[int, int]:
    with transaction.atomic():
        founders = [articles[group[0]] for group in plan.groups]
        new_topics = Topic.objects.bulk_create(
            [Topic(cluster_id=cid) for cid in _cluster_ids_for(founders)]
        )
        wanted = dict(plan.joins)
        wanted.update((t.pk, group) for t, group in zip(new_topics, plan.groups, strict=True))
        claimed = _claim({articles[i].pk: topic for topic, items in wanted.items() for i in items})
        # A concurrent run placed these articles first.
        unused = [t.pk for t in new_topics if t.pk not in claimed]
        Topic.objects.filter(pk__in=unused).delete()
        Topic.objects.filter(pk__in=sorted(claimed)).update(needs_enrichment=True)
    return sum(claimed.values()), len(new_topics) - len(unused)


def _claim(topic_of: dict[int, int]) -> dict[int, int]:
    """Put the articles still unplaced in their topics; returns how many each topic got.

    A conditional update (only rows still without a topic and not locked) that returns the rows
    it changed, so a concurrent run claims each article at most once.
    """
    claimed: dict[int, int] = defaultdict(int)
    ordered = sorted(topic_of)
    with connection.cursor() as cursor:
        for chunk in (ordered[n : n + WRITE_BATCH] for n in range(0, len(ordered), WRITE_BATCH)):
            rows = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                CLAIM_SQL.format(rows=rows), [v for pk in chunk for v in (pk, topic_of[pk])]
            )
            for _, topic in cursor.fetchall():
                claimed[topic] += 1
    return dict(claimed)


def _cluster_ids_for(founders: list[WindowArticle]) -> list[str]:
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
