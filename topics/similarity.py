"""Dot products between article vectors, fast enough to compare thousands with thousands.

A few thousand terms (" the", "ing ", "said") occur in a good share of all articles, and through
them nearly every pair of articles has some similarity: a sparse product spends most of its time
there and builds a "sparse" result with every entry filled. So `Vectors` keeps those columns as
a dense array, multiplied with BLAS (about 200 times more multiply-adds a second), and the rest
as a sparse matrix, whose products are then far cheaper. The sparse products run on two threads
(scipy releases the GIL in them) and are added straight into the dense result (see
_add_products): between articles they fill nearly every entry anyway.
"""

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse

# scipy's own sparse product kernels, called directly (see _add_products). Private, so the
# tests check the products bit for bit against scipy's public `@`.
from scipy.sparse import _sparsetools

# A column is kept dense when at least this share of the rows use it: a dense multiply-add over
# every pair then costs less than the sparse product's over the pairs that share the column.
DENSE_SHARE = 0.05
# At most this many dense columns, and at most this many bytes for the dense array.
MAX_DENSE_COLUMNS = 4096
MAX_DENSE_BYTES = 128 * 2**20
# Sparse products with fewer result entries than this are not worth a second thread.
THREADED_ENTRIES = 200_000
# Rows of a sparse product are made this many result entries at a time, in scratch space of 8
# bytes an entry (about 16 MB a thread).
PRODUCT_BLOCK_ENTRIES = 2**21
# For the bound on dot products (RareTerms): a term is rare when fewer than this share of the
# rows use it (at least 2 rows). Any share keeps the bound exact; this one keeps the product of
# the rare parts nearly empty and the rest of each row short.
RARE_SHARE = 0.01
# Pairs ruled in by length alone are looked for in blocks of at most this many pairs.
BOUND_ENTRIES = 4_000_000
# Pairs multiplied at a time by pair_products (bounds the rows gathered).
PAIR_BATCH = 1024


class Vectors:
    """Rows of an L2-normalised TF-IDF matrix, split into dense and sparse columns."""

    def __init__(
        self, dense: np.ndarray, rest: sparse.csr_matrix, rare_terms: "RareTerms | None" = None
    ) -> None:
        self.dense, self.rest = dense, rest
        self._rare_terms = rare_terms

    @classmethod
    def split(cls, matrix: sparse.csr_matrix) -> "Vectors":
        """Keep the columns most rows share dense (see DENSE_SHARE)."""
        matrix = sparse.csr_matrix(matrix, dtype=np.float32)
        shared = np.bincount(matrix.indices, minlength=matrix.shape[1])
        return cls.stacked([matrix], shared, matrix.shape[0])

    @classmethod
    def stacked(
        cls, blocks: Iterable[sparse.csr_matrix], shared: np.ndarray, rows: int
    ) -> "Vectors":
        """What split() gives for the blocks of rows stacked (`rows` rows in all), and its
        rare_terms, made a block at a time: no whole-window matrix is built, then copied
        column by column. `shared[c]` is how many rows use column c."""
        columns = dense_columns(shared, rows)
        dense = np.zeros((rows, len(columns)), dtype=np.float32)
        slot = np.full(len(shared), -1, dtype=np.int32)  # each column's place in `dense`
        slot[columns] = np.arange(len(columns), dtype=np.int32)
        is_rare = shared < rare_share(rows)
        stays_sparse = slot < 0
        rest = _Filling(int(shared[stays_sparse].sum()), (rows, len(shared)))
        rare = _Filling(int(shared[stays_sparse & is_rare].sum()), (rows, len(shared)))
        lengths = np.zeros(rows, dtype=np.float32)
        start = 0
        for block in blocks:
            stop = start + block.shape[0]
            entries = _without_dense(block, slot, dense[start:stop])
            rest.add(*entries, block.shape[0])
            lengths[start:stop] = _rare_split(*entries, dense[start:stop], is_rare, rare)
            start = stop
        return cls(dense, rest.matrix(), RareTerms(rare.matrix(), lengths))

    @classmethod
    def of(cls, vectors: "Vectors | sparse.csr_matrix") -> "Vectors":
        return vectors if isinstance(vectors, Vectors) else cls.split(vectors)

    def __len__(self) -> int:
        return int(self.dense.shape[0])

    def rows(self, index: np.ndarray) -> "Vectors":
        return Vectors(self.dense[index], self.rest[index])

    def summed(self, groups: sparse.csr_matrix) -> "Vectors":
        """One row per group (a group × row indicator matrix): the sum of its rows."""
        groups = sparse.csr_matrix(groups, dtype=np.float32)
        return Vectors(np.asarray(groups @ self.dense), (groups @ self.rest).tocsr())

    @property
    def rare_terms(self) -> "RareTerms":
        """These rows split for bounding their dot products (see RareTerms); made once."""
        if self._rare_terms is None:
            self._rare_terms = RareTerms.of(self)
        return self._rare_terms

    def squared_norms(self) -> np.ndarray:
        """Each row's squared length (summed in float64)."""
        dense = np.einsum("ij,ij->i", self.dense, self.dense, dtype=np.float64)
        rest = self.rest
        squares = sparse.csr_matrix((np.square(rest.data), rest.indices, rest.indptr), rest.shape)
        return dense + np.asarray(squares.sum(axis=1, dtype=np.float64)).ravel()


def dense_columns(shared: np.ndarray, rows: int) -> np.ndarray:
    """The columns kept dense (ascending), given how many of the `rows` rows use each."""
    rows = max(rows, 1)
    limit = min(MAX_DENSE_COLUMNS, MAX_DENSE_BYTES // (4 * rows))
    columns = np.flatnonzero(shared >= DENSE_SHARE * rows)
    if len(columns) > limit:
        columns = np.sort(columns[np.argsort(-shared[columns], kind="stable")[:limit]])
    return columns


def rare_share(rows: int) -> float:
    """A term used by fewer rows than this is rare (see RARE_SHARE)."""
    return max(2.0, RARE_SHARE * rows)


class RareTerms:
    """An upper bound on the dot products of rows, cheap to take for many pairs at once.

    Split every row into its rare terms and the rest (the same split for all rows): the dot
    product is the rare parts' product plus the rest's, and the rest's is at most the product of
    the two rests' lengths (Cauchy-Schwarz). The rare parts share few terms, so their product is
    nearly empty and cheap; the pairs the bound rules out need no dot product at all.
    """

    def __init__(self, rare: sparse.csr_matrix, rest_lengths: np.ndarray) -> None:
        self.rare, self.rest_lengths = rare, rest_lengths

    @classmethod
    def of(cls, vectors: Vectors) -> "RareTerms":
        matrix, n = vectors.rest, len(vectors)
        is_rare = np.bincount(matrix.indices, minlength=matrix.shape[1]) < rare_share(n)
        rare = _Filling(int(is_rare[matrix.indices].sum()), matrix.shape)
        rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(matrix.indptr))
        lengths = _rare_split(matrix.data, matrix.indices, rows, vectors.dense, is_rare, rare)
        return cls(rare.matrix(), lengths)

    def pairs_reaching(
        self, rows: np.ndarray, cols: np.ndarray, least: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The (row, column) positions, into `rows` and `cols` (row indexes of the vectors),
        of the pairs whose dot product may reach `least`: no other pair does. In order."""
        row_lengths, col_lengths = self.rest_lengths[rows], self.rest_lengths[cols]
        shared = (self.rare[rows] @ self.rare[cols].T).tocoo()
        bound = shared.data + row_lengths[shared.row] * col_lengths[shared.col]
        found = [shared.row[bound >= least] * len(cols) + shared.col[bound >= least]]
        # A pair sharing no rare term has only its rests' lengths to reach `least` with.
        long = np.flatnonzero(row_lengths * col_lengths.max(initial=0.0) >= least)
        step = max(1, BOUND_ENTRIES // max(len(cols), 1))
        for block in (long[start : start + step] for start in range(0, len(long), step)):
            at, col = np.nonzero(np.outer(row_lengths[block], col_lengths) >= least)
            found.append(block[at] * len(cols) + col)
        return np.divmod(np.unique(np.concatenate(found)), len(cols))


def pair_products(vectors: Vectors, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The dot products of rows a[k] and b[k] of the vectors, one per pair (float32)."""
    products = [np.zeros(0, dtype=np.float32)]
    for start in range(0, len(a), PAIR_BATCH):
        left, right = a[start : start + PAIR_BATCH], b[start : start + PAIR_BATCH]
        dense = np.einsum("ij,ij->i", vectors.dense[left], vectors.dense[right])
        rest = vectors.rest[left].multiply(vectors.rest[right]).sum(axis=1)
        products.append(dense + np.asarray(rest, dtype=np.float32).ravel())
    return np.concatenate(products)


def dot_products(a: Vectors, b: Vectors) -> np.ndarray:
    """Every row of `a` times every row of `b`, as a dense float32 array."""
    result = np.ascontiguousarray(a.dense @ b.dense.T)
    if a.rest.nnz and b.rest.nnz:
        columns = b.rest.T.tocsr()
        parts = _halves(len(a)) if len(a) * len(b) >= THREADED_ENTRIES else [range(len(a))]
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            list(pool.map(lambda rows: _add_products(a.rest, columns, rows, result), parts))
    return result


def _halves(count: int) -> list[range]:
    if (os.cpu_count() or 1) < 2 or count < 2:
        return [range(count)]
    return [range(count // 2), range(count // 2, count)]


def _add_products(
    left: sparse.csr_matrix, columns: sparse.csr_matrix, rows: range, result: np.ndarray
) -> None:
    """Add `left[rows] @ columns` to `result[rows]` (float32, C order), a block of rows at a time.

    The same kernels as scipy's `(left @ columns).toarray()`, so the same sums in the same
    order, without the pass that first counts the product's entries (a third of the time when
    nearly every entry is filled, as here), the sparse result's allocation, or a dense copy.
    A block's entries cannot outnumber its rows times the columns, which bounds the scratch.
    """
    width = columns.shape[1]
    step = max(1, PRODUCT_BLOCK_ENTRIES // width)
    # The kernels take one index type for all their arrays (int64 only for huge inputs).
    index = np.result_type(left.indptr, left.indices, columns.indptr, columns.indices)
    starts, indices, data = _kernel_arrays(left, index)
    other = _kernel_arrays(columns, index)
    found = (
        np.empty(step + 1, dtype=index),
        np.empty(step * width, dtype=index),
        np.empty(step * width, dtype=np.float32),
    )
    for start in range(rows.start, rows.stop, step):
        count = min(step, rows.stop - start)
        # Row starts are offsets into the whole of `left`: no copy of the block's rows.
        block = (starts[start : start + count + 1], indices, data)
        _sparsetools.csr_matmat(count, width, *block, *other, *found)
        _sparsetools.csr_todense(count, width, *found, result[start : start + count])


def _kernel_arrays(
    matrix: sparse.csr_matrix, index: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matrix's row starts, column indexes and values in the types the kernels take (no
    copy when they already are)."""
    return (
        matrix.indptr.astype(index, copy=False),
        matrix.indices.astype(index, copy=False),
        matrix.data.astype(np.float32, copy=False),
    )


def _without_dense(
    block: sparse.csr_matrix, slot: np.ndarray, dense: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write the block's entries in dense columns (`slot[c]`, -1 for a sparse column) into
    `dense` (the block's rows); returns the others' values, columns and rows, in row order."""
    rows = np.repeat(np.arange(block.shape[0], dtype=np.int32), np.diff(block.indptr))
    at = slot.take(block.indices)
    # Index lists and take(): a boolean mask that mixes True and False indexes ~5 times slower.
    inside = np.flatnonzero(at >= 0)
    flat = rows.take(inside).astype(np.int64) * dense.shape[1] + at.take(inside)
    np.put(dense, flat, block.data.take(inside))
    outside = np.flatnonzero(at < 0)
    return block.data.take(outside), block.indices.take(outside), rows.take(outside)


def _rare_split(
    data: np.ndarray,
    columns: np.ndarray,
    rows: np.ndarray,
    dense: np.ndarray,
    is_rare: np.ndarray,
    rare: "_Filling",
) -> np.ndarray:
    """Add the rare entries (by column) of these rows' sparse parts to `rare`; returns the
    length of each row without them (`dense` holds the rows' dense parts)."""
    flags = is_rare.take(columns)
    common = np.flatnonzero(~flags)
    squares = np.einsum("ij,ij->i", dense, dense, dtype=np.float64)
    weights = np.square(data.take(common), dtype=np.float64)
    squares += np.bincount(rows.take(common), weights=weights, minlength=len(dense))
    picked = np.flatnonzero(flags)
    rare.add(data.take(picked), columns.take(picked), rows.take(picked), len(dense))
    return np.sqrt(squares).astype(np.float32)


class _Filling:
    """A float32 CSR matrix filled a block of rows at a time, its size known in advance (the
    blocks are never held all at once, nor copied together)."""

    def __init__(self, entries: int, shape: tuple[int, int]) -> None:
        self.data = np.empty(entries, dtype=np.float32)
        self.indices = np.empty(entries, dtype=np.int32)
        self.indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        self.shape, self.filled_rows, self.filled = shape, 0, 0

    def add(self, data: np.ndarray, indices: np.ndarray, rows: np.ndarray, count: int) -> None:
        """The next `count` rows: entries in row order, `rows` counting from 0 in the block."""
        end = self.filled + len(data)
        self.data[self.filled : end] = data
        self.indices[self.filled : end] = indices
        sizes = np.cumsum(np.bincount(rows, minlength=count))
        self.indptr[self.filled_rows + 1 : self.filled_rows + count + 1] = self.filled + sizes
        self.filled_rows += count
        self.filled = end

    def matrix(self) -> sparse.csr_matrix:
        assert (self.filled, self.filled_rows) == (len(self.data), self.shape[0])
        return sparse.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def from_rows(
    data: np.ndarray, indices: np.ndarray, rows: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    """A CSR matrix from entries already in row order (no sorting, unlike the COO route)."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sparse.csr_matrix((data, indices, indptr), shape=shape)
