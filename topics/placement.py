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

    `fade(gap_hours)` must be at most 1 and never grow with the gap: the bounds rely on it.
    """

    def __init__(
        self,
        hours: np.ndarray,
        slack: np.ndarray | None,
        fade: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.hours = (hours - hours.min()).astype(np.float32) if len(hours) else hours
        self.slack = np.zeros_like(self.hours) if slack is None else slack.astype(np.float32)
        self.time_factor = fade

    def fade(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The fade for every (row item, column item) pair."""
        gaps = np.abs(self.hours[rows, None] - self.hours[None, cols])
        if self.slack.any():
            widest = np.maximum(self.slack[rows, None], self.slack[None, cols])
            gaps = np.maximum(gaps - widest, 0.0)
        return self.time_factor(gaps)

    def fade_range(
        self, rows: np.ndarray, members: np.ndarray, groups: np.ndarray, count: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each row item and group: no member's fade is above the first, or below the second.

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
        return self.time_factor(nearest), self.time_factor(farthest)


@dataclasses.dataclass
class Topics:
    """Existing topics that new items may join, their sizes, and every new item's summed
    time-faded similarity to their members (one column per topic)."""

    ids: list[int]
    sizes: np.ndarray
    sums: np.ndarray


def reachable_topics(
    vectors: Vectors,
    new: Vectors,
    times: Times,
    topic_of: list[int | None],
    is_new: list[bool],
    threshold: float,
) -> Topics:
    """The existing topics some new item or group of new items could join.

    Similarities are never negative and fades never exceed 1, so an item's mean faded
    similarity to a topic is at most its similarity to the topic's mean vector, times the
    fade to the topic's nearest member. A topic that stays under the threshold so for every
    new item can never be joined (a group's mean is the mean of its items' means) and is left
    out: the plan is the one all topics would give. Where every member's fade is 1, the
    product with the topic's summed vector is the summed similarity itself.
    """
    new_idx = np.flatnonzero(is_new)
    ids = sorted({t for t, flag in zip(topic_of, is_new, strict=True) if t and not flag})
    column = {t: j for j, t in enumerate(ids)}
    members = np.array([i for i, t in enumerate(topic_of) if t in column], dtype=np.int64)
    groups = np.array([column[topic_of[i]] for i in members], dtype=np.int64)  # type: ignore[index]
    sizes = np.bincount(groups, minlength=len(ids)).astype(np.float64)
    totals = vectors.summed(membership(groups, members, len(ids), len(vectors)))
    sums = dot_products(new, totals).astype(np.float64)
    highest, lowest = times.fade_range(new_idx, members, groups, len(ids))
    reachable = np.flatnonzero((sums / sizes * highest >= threshold - BOUND_ROUNDING).any(axis=0))
    sums = sums[:, reachable]
    faded = np.flatnonzero((lowest[:, reachable] < 1.0).any(axis=0))
    if len(faded):
        wanted = reachable[faded]
        sums[:, faded] = _member_sums(vectors, new, times, new_idx, members, groups, wanted)
    return Topics([ids[j] for j in reachable], sizes[reachable], sums)


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
    similarity = dot_products(new, vectors.rows(members))
    similarity *= times.fade(new_idx, members)
    indicator = membership(groups, np.arange(len(members)), len(wanted), len(members))
    return np.asarray(similarity @ indicator.T)


def membership(groups: np.ndarray, items: np.ndarray, count: int, size: int) -> sparse.csr_matrix:
    """Group × item indicator matrix: row g has a 1 for each item in group g."""
    ones = np.ones(len(items), dtype=np.float64)
    return sparse.csr_matrix((ones, (groups, items)), shape=(count, size))


class Merger:
    """Greedy average-link merging on a dense matrix of group similarities.

    Rows are the new groups; columns are the new groups, then the existing topics. Sums of
    pairwise similarities are kept (not means) so a merge is a row or column addition.
    """

    def __init__(self, within: np.ndarray, new_idx: np.ndarray, topics: Topics) -> None:
        m, k = len(new_idx), len(topics.ids)
        self.new_idx, self.topic_ids = [int(i) for i in new_idx], topics.ids
        self.members: list[list[int]] = [[i] for i in range(m)]
        self.joined_to: list[int | None] = [None] * m
        self.sizes = np.ones(m + k, dtype=np.float64)
        self.sizes[m:] = topics.sizes
        self.sums = np.zeros((m, m + k), dtype=np.float64)
        self.sums[:, :m] = within
        self.sums[:, m:] = topics.sums
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
        partners = self.best_col[rows]
        for row in rows[(partners == stale[0]) | (partners == stale[1])]:
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
