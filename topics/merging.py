"""Merge young topics that turned out to be one story.

Placement never merges existing topics, so two topics opened for one story (say, by runs that
each saw half of it) would stay apart for good. After each placement the young topics (with an
article published in the last MERGE_YOUNG_HOURS) that no editor touched are compared by average
link, and those that reach the placement threshold are merged into the oldest of them: its
articles stay and the others' articles move in, so the surviving topic keeps its cluster id.
"""

from collections import defaultdict
from collections.abc import Callable

import numpy as np
from scipy import sparse

from topics.similarity import Vectors, dot_products

# Only topics still growing may merge; older ones are settled and shown as they are.
MERGE_YOUNG_HOURS = 24.0
# Stricter than placement: undoing a wrong merge of two shown topics is worse for readers than
# a late merge (on neus_dev, merging at the placement threshold cost more precision than it won).
MERGE_PASS_THRESHOLD = 0.2


def plan_merges(
    vectors: Vectors | sparse.csr_matrix,
    hours: np.ndarray,
    topic_of: list[int | None],
    mergeable: set[int],
    changed: set[int],
    threshold: float,
    time_faded: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> list[tuple[int, list[int]]]:
    """Which mergeable topics become one: (surviving topic, topics merged into it) pairs.

    Only pairs with a topic in `changed` (joined or created by this run), or a group already
    holding one, are compared: two topics the run left alone have nothing new to merge on,
    and a run never reshuffles settled topics.

    `vectors[i]`, `hours[i]` and `topic_of[i]` describe the window's articles. The similarity
    of two topics is the mean over their member pairs of the cosine, faded by the time between
    the topics' mean publication times. The survivor is the lowest topic id (the oldest topic).
    Deterministic: ties go to the lowest ids.
    """
    topics = sorted(mergeable)
    if len(topics) < 2:
        return []
    column = {t: j for j, t in enumerate(topics)}
    rows = [i for i, t in enumerate(topic_of) if t in column]
    cols = [column[topic_of[i]] for i in rows]  # type: ignore[index]
    membership = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (cols, rows)), shape=(len(topics), len(topic_of))
    )
    sums = Vectors.of(vectors).summed(membership)  # one summed vector per topic
    sizes = np.asarray(membership.sum(axis=1), dtype=np.float64).ravel()
    mean_hours = (membership @ hours) / sizes
    is_changed = np.array([t in changed for t in topics], dtype=bool)
    keep = _within_reach(sums, sizes, mean_hours, is_changed, threshold, time_faded)
    if len(keep) < 2:
        return []
    means = _pair_means(sums, sizes, mean_hours, keep, time_faded)[:, keep]
    pair_sums = means * np.outer(sizes[keep], sizes[keep])
    groups = _agglomerate(pair_sums, sizes[keep], is_changed[keep], threshold)
    return [(topics[keep[g[0]]], [topics[keep[j]] for j in g[1:]]) for g in groups if len(g) > 1]


def _within_reach(
    sums: Vectors,
    sizes: np.ndarray,
    mean_hours: np.ndarray,
    is_changed: np.ndarray,
    threshold: float,
    time_faded: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """The topics that may take part in a merge, in order.

    Average link only merges two groups when some pair of their parts reaches the threshold,
    so every group formed is linked (pairs at the threshold) and holds a changed topic: the
    topics linked to a changed one, directly or through others, are all that can take part.
    Only their rows are compared, not all pairs.
    """
    taking_part = np.zeros(len(sizes), dtype=bool)
    explored = np.zeros(len(sizes), dtype=bool)
    frontier = np.flatnonzero(is_changed)
    while len(frontier):
        linked = _linked(sums, sizes, mean_hours, frontier, threshold, time_faded)
        explored[frontier] = True
        taking_part[frontier[linked.any(axis=1)]] = True
        reached = linked.any(axis=0)
        taking_part |= reached
        frontier = np.flatnonzero(reached & ~explored)
    return np.flatnonzero(taking_part)


def _linked(
    sums: Vectors,
    sizes: np.ndarray,
    mean_hours: np.ndarray,
    rows: np.ndarray,
    threshold: float,
    time_faded: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """Which topics each of the topics `rows` reaches: _pair_means(...) >= threshold.

    A fade is at most 1, so only the pairs whose unfaded mean reaches the threshold are faded:
    on a first run over a day that is a few hundred pairs of some 3.5 million, and the fade's
    temporaries over all of them cost more than the products.
    """
    means = dot_products(sums.rows(rows), sums).astype(np.float64)
    means /= np.outer(sizes[rows], sizes)
    means[np.arange(len(rows)), rows] = -np.inf
    at, topic = np.nonzero(means >= threshold)
    faded = time_faded(means[at, topic], np.abs(mean_hours[rows][at] - mean_hours[topic]))
    reaches = faded >= threshold
    linked = np.zeros(means.shape, dtype=bool)
    linked[at[reaches], topic[reaches]] = True
    return linked


def _pair_means(
    sums: Vectors,
    sizes: np.ndarray,
    mean_hours: np.ndarray,
    rows: np.ndarray,
    time_faded: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """Time-faded mean link of the topics `rows` to every topic (-inf with themselves)."""
    pair_sums = dot_products(sums.rows(rows), sums).astype(np.float64)
    means = pair_sums / np.outer(sizes[rows], sizes)
    means = time_faded(means, np.abs(mean_hours[rows, None] - mean_hours[None, :]))
    means[np.arange(len(rows)), rows] = -np.inf
    return means


def _agglomerate(
    pair_sums: np.ndarray, sizes: np.ndarray, changed: np.ndarray, threshold: float
) -> list[list[int]]:
    """Greedy average-link merging of groups given summed pairwise similarities; two groups
    may merge only if either holds a `changed` part."""
    sums, sizes, changed = pair_sums.copy(), sizes.copy(), changed.copy()
    np.fill_diagonal(sums, -np.inf)
    members: dict[int, list[int]] = defaultdict(list, {j: [j] for j in range(len(sizes))})
    alive = np.ones(len(sizes), dtype=bool)
    while alive.sum() > 1:
        means = sums / np.outer(sizes, sizes)
        means[~alive] = -np.inf
        means[:, ~alive] = -np.inf
        means[np.ix_(~changed, ~changed)] = -np.inf
        flat = int(np.argmax(means))
        keep, gone = sorted(divmod(flat, len(sizes)))
        if means[keep, gone] < threshold:
            break
        sums[keep] += sums[gone]
        sums[:, keep] += sums[:, gone]
        sums[keep, keep] = -np.inf
        sizes[keep] += sizes[gone]
        changed[keep] |= changed[gone]
        members[keep] = sorted(members[keep] + members.pop(gone))
        alive[gone] = False
    return [members[j] for j in sorted(members) if alive[j]]
