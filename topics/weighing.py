"""Weigh a window's term counts into the vectors clustering compares (the second step).

`weigh` turns the counts of a whole window (topics/vectorize.py count_terms, stored per
article by topics/window.py) into TF-IDF vectors, with IDF taken from that window: the same
window always gives the same vectors, and nothing learned in one run carries over to drift
the next. Each of the three views (words, character n-grams, names) is normalised and
weighted, so that a dot product is a weighted mean of three cosines. `weighed_vectors` gives
the same vectors already split for fast products (topics/similarity.py Vectors), a block of
rows at a time. `vectorize(titles, texts)` counts and weighs, for callers with no stored counts.

Kept apart from counting so that an edit here never makes stored counts stale: their version
hashes topics/vectorize.py and topics/hashing.py only.
"""

import dataclasses
from collections.abc import Iterator

import numpy as np
from scipy import sparse

from topics.similarity import Vectors, from_rows
from topics.vectorize import VIEW_STARTS, count_terms

# Weights of the three views (scaled so their squares sum to 1: self-similarity stays 1).
WORD_WEIGHT = 0.8
CHAR_WEIGHT = 0.7
NAME_WEIGHT = 0.15
# Character n-grams seen in a single article of the window say nothing about shared stories.
CHAR_MIN_DF = 2
# Weighing goes a block of about this many entries (term counts) at a time.
BLOCK_ENTRIES = 2**20
# Bits of a term's bucket that pick its slot in the tables weigh() numbers terms with.
_SLOT_BITS = 22
_SLOTS = 2**_SLOT_BITS


def vectorize(titles: list[str], texts: list[str]) -> sparse.csr_matrix:
    """One L2-normalised row per article (all zeros when it has nothing to go on)."""
    return weigh(count_terms(titles, texts))


def weigh(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """TF-IDF of a window's term counts: sublinear TF, smoothed IDF from the window, each view
    L2-normalised and weighted, the whole row normalised again.

    What scikit-learn's TfidfVectorizer(sublinear_tf=True) gives per view: the result has one
    column per term of the window (terms in ascending bucket order).
    """
    counts = counts.tocsr()
    return _Terms.of(counts).weigh(counts, 0, counts.shape[0])


def weighed_vectors(counts: sparse.csr_matrix) -> Vectors:
    """Vectors.split(weigh(counts)), weighed and split a block of rows at a time.

    Written for memory and speed: a window of 30,000 articles has some 15 million entries, and
    the whole-window arrays a single pass would allocate (and the kernel zero) cost more than the
    arithmetic; a block's arrays stay in the CPU caches and are reused.
    """
    counts = counts.tocsr()
    terms = _Terms.of(counts)
    blocks = (terms.weigh(counts, *rows) for rows in _row_blocks(counts.indptr))
    return Vectors.stacked(blocks, terms.shared, counts.shape[0])


@dataclasses.dataclass(frozen=True)
class _Terms:
    """A window's distinct terms, in ascending bucket order, and what weighing needs of each."""

    find: "_BucketIndex"
    column: np.ndarray  # the term's column in the weighed matrix; -1 when left out
    idf: np.ndarray
    view: np.ndarray
    shared: np.ndarray  # per column: how many rows use its term

    @classmethod
    def of(cls, counts: sparse.csr_matrix) -> "_Terms":
        buckets, df = _distinct(counts.indices)
        view = (np.searchsorted(VIEW_STARTS, buckets, side="right") - 1).astype(np.int8)
        used = df >= np.where(view == 1, CHAR_MIN_DF, 1)
        column = np.cumsum(used, dtype=np.int32) - 1
        column[~used] = -1
        idf = (np.log((1 + counts.shape[0]) / (1 + df)) + 1).astype(np.float32)
        return cls(_BucketIndex(buckets), column, idf, view, df[used])

    def weigh(self, counts: sparse.csr_matrix, start: int, stop: int) -> sparse.csr_matrix:
        """The weighed rows start to stop - 1 of the window's counts."""
        first, last = counts.indptr[start], counts.indptr[stop]
        term = self.find(counts.indices[first:last])
        rows = np.repeat(
            np.arange(stop - start, dtype=np.int32), np.diff(counts.indptr[start : stop + 1])
        )
        values = counts.data[first:last].astype(np.float32)
        column = self.column.take(term)
        if (column < 0).any():
            # take() with index lists: a boolean mask indexes several times slower.
            kept = np.flatnonzero(column >= 0)
            term, rows, values, column = (a.take(kept) for a in (term, rows, values, column))
        np.log(values, out=values)
        values += 1
        values *= self.idf.take(term)
        view_of = self.view.take(term)
        values /= _norms(values, rows * 3 + view_of)
        values *= np.asarray(_view_weights(), dtype=np.float32).take(view_of)
        values /= _norms(values, rows)
        # Entries stay in row order, and ascending buckets keep each row's columns sorted.
        return from_rows(values, column, rows, (stop - start, len(self.shared)))


def _row_blocks(indptr: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive blocks of rows holding about BLOCK_ENTRIES entries each."""
    start, rows = 0, len(indptr) - 1
    while start < rows:
        stop = int(np.searchsorted(indptr, indptr[start] + BLOCK_ENTRIES, side="right")) - 1
        stop = min(max(stop, start + 1), rows)
        yield start, stop
        start = stop


def _norms(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each value's group's L2 norm; `groups` never decreases, and groups are never empty."""
    if not len(values):
        return values
    starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
    sizes = np.diff(np.append(starts, len(groups)))
    return np.repeat(np.sqrt(np.add.reduceat(values * values, starts)), sizes)


def _distinct(buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct buckets in ascending order, and how many entries hold each."""
    ordered = np.sort(buckets)
    first = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return ordered.take(starts), np.diff(np.append(starts, len(ordered)))


class _BucketIndex:
    """Each bucket's position among the window's distinct buckets.

    np.unique(return_inverse=True) takes ~9 s on a 30,000-article window (an indirect sort).
    A direct-mapped table on the buckets' low bits finds most buckets at once; a second one, on
    the high bits, finds most of those whose slot another bucket took; a binary search finds the
    few left.
    """

    def __init__(self, distinct: np.ndarray) -> None:
        self.distinct = distinct
        positions = np.arange(len(distinct), dtype=np.int32)
        self.low = np.zeros(_SLOTS, dtype=np.int32)
        self.low[_low_slot(distinct)] = positions
        lost = np.flatnonzero(distinct.take(self.low.take(_low_slot(distinct))) != distinct)
        self.high = np.zeros(_SLOTS, dtype=np.int32)
        self.high[_high_slot(distinct.take(lost))] = positions.take(lost)

    def __call__(self, buckets: np.ndarray) -> np.ndarray:
        """The positions of these buckets, which must all be among the distinct ones."""
        found = self.low.take(_low_slot(buckets))
        missed = np.flatnonzero(self.distinct.take(found) != buckets)
        if len(missed):
            others = buckets.take(missed)
            again = self.high.take(_high_slot(others))
            still = np.flatnonzero(self.distinct.take(again) != others)
            again[still] = np.searchsorted(self.distinct, others.take(still))
            found[missed] = again
        return found


def _low_slot(buckets: np.ndarray) -> np.ndarray:
    return buckets & (_SLOTS - 1)


def _high_slot(buckets: np.ndarray) -> np.ndarray:
    # Buckets are under 2**31: two that share their low bits share these only if they are equal.
    return (buckets >> (31 - _SLOT_BITS)) & (_SLOTS - 1)


def _view_weights() -> tuple[float, float, float]:
    raw = np.array([WORD_WEIGHT, CHAR_WEIGHT, NAME_WEIGHT], dtype=np.float64)
    scaled = raw / np.linalg.norm(raw)
    return float(scaled[0]), float(scaled[1]), float(scaled[2])
