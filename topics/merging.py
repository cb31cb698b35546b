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
    threshold: float,
    time_faded: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> list[tuple[int, list[int]]]:
    """Which mergeable topics become one: (surviving topic, topics merged into it) pairs.

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
    pair_sums = dot_products(sums, sums).astype(np.float64)
    means = pair_sums / np.outer(sizes, sizes)
    means = time_faded(means, np.abs(mean_hours[:, None] - mean_hours[None, :]))
    pair_sums = means * np.outer(sizes, sizes)
    np.fill_diagonal(means, -np.inf)
    # Average link only ever merges groups one of whose parts had a partner above threshold.
    keep = np.flatnonzero(means.max(axis=1) >= threshold)
    groups = _agglomerate(pair_sums[np.ix_(keep, keep)], sizes[keep], threshold)
    return [(topics[keep[g[0]]], [topics[keep[j]] for j in g[1:]]) for g in groups if len(g) > 1]


def _agglomerate(pair_sums: np.ndarray, sizes: np.ndarray, threshold: float) -> list[list[int]]:
    """Greedy average-link merging of groups given summed pairwise similarities."""
    sums, sizes = pair_sums.copy(), sizes.copy()
    np.fill_diagonal(sums, -np.inf)
    members: dict[int, list[int]] = defaultdict(list, {j: [j] for j in range(len(sizes))})
    alive = np.ones(len(sizes), dtype=bool)
    while alive.sum() > 1:
        means = sums / np.outer(sizes, sizes)
        means[~alive] = -np.inf
        means[:, ~alive] = -np.inf
        flat = int(np.argmax(means))
        keep, gone = sorted(divmod(flat, len(sizes)))
        if means[keep, gone] < threshold:
            break
        sums[keep] += sums[gone]
        sums[:, keep] += sums[:, gone]
        sums[keep, keep] = -np.inf
        sizes[keep] += sizes[gone]
        members[keep] = sorted(members[keep] + members.pop(gone))
        alive[gone] = False
    return [members[j] for j in sorted(members) if alive[j]]
