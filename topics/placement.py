"""How placement (topics/clustering.py plan_placement) finds where new articles go.

Average-link agglomeration needs every new article's similarity to every other and to every
existing topic's members. Most topics are out of reach of every new article, which a cheap
bound shows (reachable_topics), and for the rest the summed similarities usually come from one
product with each topic's summed vector: only topics with members far in time from a new
article are compared member by member.
"""

import dataclasses
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from scipy import sparse

from topics.similarity import Vectors, dot_products

# Topics whose bound misses the threshold by less than float32 rounding are still compared.
BOUND_ROUNDING = 1e-4


@dataclasses.dataclass
class Plan:
    """Where the new articles go: item indexes per existing topic, and groups for new topics."""

    joins: dict[int, list[int]]
    groups: list[list[int]]


class Times:
    """Publication times (hours), how far off each may be (slack), and the time fade.

    `fade(similarity, gap_hours)` is the factor similarities are faded by. The bounds rely on
    it being at most 1, never growing with the gap and never shrinking as similarity grows: the
    fade at similarity 1 is then the most lenient one, and at similarity 0 the strictest.
    """

    def __init__(
        self,
        hours: np.ndarray,
        slack: np.ndarray | None,
        fade: Callable[[np.ndarray, np.ndarray], np.ndarray],
    ) -> None:
        self.hours = (hours - hours.min()).astype(np.float32) if len(hours) else hours
        self.slack = np.zeros_like(self.hours) if slack is None else slack.astype(np.float32)
        self.time_fade = fade

    def faded(self, similarity: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The similarities of every (row item, column item) pair after the fade."""
        return self.faded_pairs(similarity, rows[:, None], cols[None, :])

    def faded_pairs(self, similarity: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The similarities of the items a[k] and b[k] after the fade (arrays that broadcast)."""
        gaps = np.abs(self.hours[a] - self.hours[b])
        if self.slack.any():
            widest = np.maximum(self.slack[a], self.slack[b])
            gaps = np.maximum(gaps - widest, 0.0)
        return similarity * self.time_fade(similarity, gaps)

    def lenient(self, gaps: np.ndarray) -> np.ndarray:
        return self.time_fade(np.ones_like(gaps), gaps)

    def strict(self, gaps: np.ndarray) -> np.ndarray:
        return self.time_fade(np.zeros_like(gaps), gaps)

    def nearest_lenient(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Per column item, at least the most lenient fade to any row item (an upper bound)."""
        if not len(rows):
            return np.zeros(len(cols), dtype=np.float32)
        at = np.sort(self.hours[rows])
        hours = self.hours[cols]
        after = np.clip(np.searchsorted(at, hours), 0, len(at) - 1)
        before = np.clip(after - 1, 0, len(at) - 1)
        nearest = np.minimum(np.abs(at[after] - hours), np.abs(at[before] - hours))
        widest = np.maximum(self.slack[cols], self.slack[rows].max())
        return self.lenient(np.maximum(nearest - widest, 0.0))

    def gap_range(
        self, rows: np.ndarray, members: np.ndarray, groups: np.ndarray, count: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each row item and group: no member's gap to the item (as the fade reads it, slack
        taken off) is below the first or above the second.

        `groups[j]` is the group (0 to count - 1) of item `members[j]`.
        """
        earliest = np.full(count, np.inf, dtype=np.float32)
        latest = np.full(count, -np.inf, dtype=np.float32)
        widest = np.zeros(count, dtype=np.float32)
        np.minimum.at(earliest, groups, self.hours[members])
        np.maximum.at(latest, groups, self.hours[members])
        np.maximum.at(widest, groups, self.slack[members])
        at, slack = self.hours[rows, None], self.slack[rows, None]
        nearest = np.maximum(np.maximum(earliest - at, at - latest), 0.0)
        nearest = np.maximum(nearest - np.maximum(slack, widest), 0.0)
        farthest = np.maximum(np.maximum(latest - at, at - earliest) - slack, 0.0)
        return nearest, farthest


@dataclasses.dataclass
class Topics:
    """Existing topics that new items may join, their sizes, every new item's summed
    time-faded similarity to their members (one column per topic), and each topic's sum of
    (unfaded) similarities over its own member pairs."""

    ids: list[int]
    sizes: np.ndarray
    sums: np.ndarray
    inner: np.ndarray
    unfaded: np.ndarray  # the sums before the time fade


def reachable_topics(
    vectors: Vectors,
    norms: np.ndarray,
    new: Vectors,
    times: Times,
    topic_of: list[int | None],
    is_new: list[bool],
    threshold: float,
    required: set[int],
) -> Topics:
    """The existing topics some new item or group of new items could join, and `required`.

    Similarities are never negative and a fade is at most its most lenient value (the fade at
    similarity 1), so an item's mean faded similarity to a topic is at most its similarity to
    the topic's mean vector, times that fade to the topic's nearest member. A topic that stays
    under the threshold so for every new item can never be joined (a group's mean is the mean
    of its items' means, and the cohesion rule only ever rules joins out) and is left out: the
    plan is the one all topics would give. Where even the strictest fade is 1 for every member,
    the product with the topic's summed vector is the summed faded similarity itself.

    `norms` are the vectors' squared lengths (Vectors.squared_norms), worked out once per run.
    """
    new_idx = np.flatnonzero(is_new)
    ids = sorted({t for t, flag in zip(topic_of, is_new, strict=True) if t and not flag})
    column = {t: j for j, t in enumerate(ids)}
    members = np.array([i for i, t in enumerate(topic_of) if t in column], dtype=np.int64)
    groups = np.array([column[topic_of[i]] for i in members], dtype=np.int64)
    sizes = np.bincount(groups, minlength=len(ids)).astype(np.float64)
    totals = vectors.summed(membership(groups, members, len(ids), len(vectors)))
    sums = dot_products(new, totals).astype(np.float64)
    nearest, farthest = times.gap_range(new_idx, members, groups, len(ids))
    means = sums / sizes
    # A fade is at most 1, so only the pairs whose unfaded mean reaches the threshold need theirs.
    bound = means >= threshold - BOUND_ROUNDING
    bound[bound] = means[bound] * times.lenient(nearest[bound]) >= threshold - BOUND_ROUNDING
    wanted_ids = np.isin(np.array(ids, dtype=np.int64), sorted(required))
    reachable = np.flatnonzero(bound.any(axis=0) | wanted_ids)
    sums = sums[:, reachable]
    unfaded = sums.copy()
    # A fade never grows with the gap: the farthest member tells whether any fade is under 1.
    farthest = farthest[:, reachable].max(axis=0, initial=0.0)
    faded = np.flatnonzero(times.strict(farthest) < 1.0)
    if len(faded):
        wanted = reachable[faded]
        sums[:, faded] = _member_sums(vectors, new, times, new_idx, members, groups, wanted)
    inner = _inner_sums(norms, totals, members, groups, len(ids))[reachable]
    return Topics([ids[j] for j in reachable], sizes[reachable], sums, inner, unfaded)


def _inner_sums(
    norms: np.ndarray, totals: Vectors, members: np.ndarray, groups: np.ndarray, count: int
) -> np.ndarray:
    """Per group, the sum of its members' pairwise similarities: from the summed vector's
    squared length, less each member's own (`norms`, squared lengths of all items)."""
    own = np.bincount(groups, weights=norms[members], minlength=count)
    return (totals.squared_norms() - own) / 2


def _member_sums(
    vectors: Vectors,
    new: Vectors,
    times: Times,
    new_idx: np.ndarray,
    members: np.ndarray,
    groups: np.ndarray,
    wanted: np.ndarray,
) -> np.ndarray:
    """Each new item's summed faded similarity to the members of the wanted groups."""
    chosen = np.isin(groups, wanted)
    members, groups = members[chosen], np.searchsorted(wanted, groups[chosen])
    similarity = times.faded(dot_products(new, vectors.rows(members)), new_idx, members)
    indicator = membership(groups, np.arange(len(members)), len(wanted), len(members))
    return np.asarray(similarity @ indicator.T)


def membership(groups: np.ndarray, items: np.ndarray, count: int, size: int) -> sparse.csr_matrix:
    """Group × item indicator matrix: row g has a 1 for each item in group g."""
    ones = np.ones(len(items), dtype=np.float64)
    return sparse.csr_matrix((ones, (groups, items)), shape=(count, size))


class Merger:
    """Greedy average-link merging on a dense matrix of group similarities.

    Rows are the new groups; columns are the new groups, then the existing topics. Sums of
    pairwise similarities are kept (not means) so a merge is a row or column addition. Two
    groups of several articles each stay apart when their mean is under `separation` times the
    looser group's own mean (its cohesion).
    """

    def __init__(
        self,
        within: np.ndarray,
        new_idx: np.ndarray,
        topics: Topics,
        separation: float,
        *,
        unfaded: np.ndarray,
        same_story: float,
    ) -> None:
        m, k = len(new_idx), len(topics.ids)
        self.new_idx, self.topic_ids = [int(i) for i in new_idx], topics.ids
        self.separation, self.same_story = separation, same_story
        self.members: list[list[int]] = [[i] for i in range(m)]
        self.joined_to: list[int | None] = [None] * m
        self.merged_into: list[int | None] = [None] * m
        self.sizes = np.ones(m + k, dtype=np.float64)
        self.sizes[m:] = topics.sizes
        self.sums = np.zeros((m, m + k), dtype=np.float64)
        self.sums[:, :m] = within
        self.sums[:, m:] = topics.sums
        # The same sums before the time fade (see _apart).
        self.raw = np.zeros((m, m + k), dtype=np.float64)
        self.raw[:, :m] = unfaded
        self.raw[:, m:] = topics.unfaded
        self.inner = np.concatenate([np.zeros(m), topics.inner])
        # Each group's mean similarity over its own pairs; NaN for a single article. Kept up to
        # date as groups grow, rather than worked out again for every row looked at.
        pairs = self.sizes * (self.sizes - 1) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            self.cohesion = np.where(self.sizes > 1, self.inner / pairs, np.nan)
        self.alive = np.ones(m, dtype=bool)
        self.dead = np.zeros(m, dtype=bool)  # ~alive, kept rather than worked out per row
        # Every row starts as a single article, which the cohesion rule never holds apart: each
        # row's best partner is its highest mean (the same means _means gives, all rows at once).
        means = self.sums / (self.sizes[:m, None] * self.sizes)
        means[np.arange(m), np.arange(m)] = -np.inf
        self.best_col = np.argmax(means, axis=1) if m else np.zeros(0, dtype=np.int64)
        self.best = means[np.arange(m), self.best_col]

    def _means(self, row: int) -> np.ndarray:
        pairs = self.sizes[row] * self.sizes
        means = self.sums[row] / pairs
        means[row] = -np.inf
        means[: len(self.alive)][self.dead] = -np.inf
        cohesion = self.cohesion
        if not np.isnan(cohesion[row]):  # a single article is never held apart
            means[self._apart(means, self.raw[row] / pairs, cohesion[row], cohesion)] = -np.inf
        return means

    def _apart(
        self, means: np.ndarray, unfaded: np.ndarray, cohesion: np.ndarray, other: np.ndarray
    ) -> np.ndarray:
        """Which pairs of groups the cohesion rule holds apart: those whose mean is under
        `separation` times the looser group's cohesion, unless their mean before the time fade
        reaches `same_story` (one story reported over days: the fade lowers the mean between
        its days' groups, never their cohesion)."""
        looser = np.minimum(cohesion, other)
        return (means < self.separation * looser) & (unfaded < self.same_story)

    def _grown(self, group: int) -> None:
        """Bring the group's cohesion up to date with its size and inner sum."""
        size = self.sizes[group]
        self.cohesion[group] = self.inner[group] / (size * (size - 1) / 2) if size > 1 else np.nan

    def _refresh_row(self, row: int) -> None:
        means = self._means(row)
        self.best_col[row] = int(np.argmax(means))
        self.best[row] = means[self.best_col[row]]

    def collapse(self, links: list[tuple[int, int]]) -> None:
        """Join near-duplicates (row, column) before anything else."""
        m = len(self.alive)
        for row, col in links:
            a, b = sorted((self._owner(row), self._owner(col)))
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
        while m:
            row = int(np.argmax(self.best))
            if self.best[row] < threshold:
                break
            col = int(self.best_col[row])
            if col < m:
                self._merge_new(min(row, col), max(row, col))
            else:
                self._join_topic(row, col)

    def _merge_new(self, keep: int, gone: int) -> None:
        self.inner[keep] += self.inner[gone] + self.sums[keep, gone]
        self.sums[keep] += self.sums[gone]
        self.sums[:, keep] += self.sums[:, gone]
        self.raw[keep] += self.raw[gone]
        self.raw[:, keep] += self.raw[:, gone]
        self.sizes[keep] += self.sizes[gone]
        self.members[keep] += self.members[gone]
        self.merged_into[gone] = keep
        self._grown(keep)
        self._retire(gone)
        self._after_column_change(gone, keep)
        self._refresh_row(keep)  # the grown group's own similarities all changed

    def _join_topic(self, row: int, col: int) -> None:
        self.inner[col] += self.inner[row] + self.sums[row, col]
        self.sums[:, col] += self.sums[:, row]
        self.raw[:, col] += self.raw[:, row]
        self.sizes[col] += self.sizes[row]
        self.joined_to[row] = col
        self._grown(col)
        self._retire(row)
        self._after_column_change(row, col)

    def _retire(self, row: int) -> None:
        # Its row and column of sums stay as they are: nothing reads a retired group's sums
        # (_means masks dead columns, and only live rows are looked at).
        self.alive[row] = False
        self.dead[row] = True
        self.best[row] = -np.inf

    def _after_column_change(self, gone: int, changed: int) -> None:
        rows = np.flatnonzero(self.alive)
        if not len(rows):
            return
        # A row whose best partner was merged away or diluted must look again...
        best = self.best_col[rows]
        for row in rows[(best == gone) | (best == changed)]:
            self._refresh_row(int(row))
        # ...and any row may now prefer the grown group.
        pairs = self.sizes[rows] * self.sizes[changed]
        means = self.sums[rows, changed] / pairs
        cohesion = self.cohesion
        apart = self._apart(
            means, self.raw[rows, changed] / pairs, cohesion[rows], cohesion[changed]
        )
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
            if (topic_column := self.joined_to[row]) is not None:
                joins[self.topic_ids[topic_column - m]] += items
            elif self.alive[row]:
                groups.append(items)
        return Plan(joins={t: sorted(items) for t, items in joins.items()}, groups=sorted(groups))
