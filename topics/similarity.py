"""Dot products between article vectors, fast enough to compare thousands with thousands.

A few thousand terms (" the", "ing ", "said") occur in a good share of all articles, and through
them nearly every pair of articles has some similarity: a sparse product spends most of its time
there and builds a "sparse" result with every entry filled. So `Vectors` keeps those columns as
a dense array, multiplied with BLAS (about 200 times more multiply-adds a second), and the rest
as a sparse matrix, whose products are then far cheaper. The sparse products run on two threads
(scipy releases the GIL in them).
"""

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse

# A column is kept dense when at least this share of the rows use it: a dense multiply-add over
# every pair then costs less than the sparse product's over the pairs that share the column.
DENSE_SHARE = 0.05
# At most this many dense columns, and at most this many bytes for the dense array.
MAX_DENSE_COLUMNS = 4096
MAX_DENSE_BYTES = 128 * 2**20
# Sparse products with fewer result entries than this are not worth a second thread.
THREADED_ENTRIES = 200_000
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

    def __init__(self, dense: np.ndarray, rest: sparse.csr_matrix) -> None:
        self.dense, self.rest = dense, rest

    @classmethod
    def split(cls, matrix: sparse.csr_matrix) -> "Vectors":
        """Keep the columns most rows share dense (see DENSE_SHARE)."""
        matrix = sparse.csr_matrix(matrix, dtype=np.float32)
        rows = max(matrix.shape[0], 1)
        shared = np.bincount(matrix.indices, minlength=matrix.shape[1])
        limit = min(MAX_DENSE_COLUMNS, MAX_DENSE_BYTES // (4 * rows))
        columns = np.flatnonzero(shared >= DENSE_SHARE * rows)
        if len(columns) > limit:
            columns = np.sort(columns[np.argsort(-shared[columns], kind="stable")[:limit]])
        is_dense = np.zeros(matrix.shape[1], dtype=bool)
        is_dense[columns] = True
        return cls(matrix[:, columns].toarray(), _without(matrix, is_dense))

    @classmethod
    def of(cls, vectors: "Vectors | sparse.csr_matrix") -> "Vectors":
        return vectors if isinstance(vectors, Vectors) else cls.split(vectors)

    def __len__(self) -> int:
        return self.dense.shape[0]

    def rows(self, index: np.ndarray) -> "Vectors":
        return Vectors(self.dense[index], self.rest[index])

    def summed(self, groups: sparse.csr_matrix) -> "Vectors":
        """One row per group (a group × row indicator matrix): the sum of its rows."""
        groups = sparse.csr_matrix(groups, dtype=np.float32)
        return Vectors(np.asarray(groups @ self.dense), (groups @ self.rest).tocsr())

    @functools.cached_property
    def rare_terms(self) -> "RareTerms":
        """These rows split for bounding their dot products (see RareTerms); made once."""
        return RareTerms.of(self)

    def squared_norms(self) -> np.ndarray:
        """Each row's squared length (summed in float64)."""
        dense = np.einsum("ij,ij->i", self.dense, self.dense, dtype=np.float64)
        rest = self.rest
        squares = sparse.csr_matrix((np.square(rest.data), rest.indices, rest.indptr), rest.shape)
        return dense + np.asarray(squares.sum(axis=1, dtype=np.float64)).ravel()


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
        shared = np.bincount(matrix.indices, minlength=matrix.shape[1])
        is_rare = shared[matrix.indices] < max(2.0, RARE_SHARE * n)
        rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(matrix.indptr))
        common = np.square(matrix.data[~is_rare], dtype=np.float64)
        squares = np.einsum("ij,ij->i", vectors.dense, vectors.dense, dtype=np.float64)
        squares += np.bincount(rows[~is_rare], weights=common, minlength=n)
        rare = from_rows(matrix.data[is_rare], matrix.indices[is_rare], rows[is_rare], matrix.shape)
        return cls(rare, np.sqrt(squares).astype(np.float32))

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
    result = a.dense @ b.dense.T
    if a.rest.nnz and b.rest.nnz:
        columns = b.rest.T.tocsr()
        parts = _halves(a.rest) if len(a) * len(b) >= THREADED_ENTRIES else [a.rest]
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            products = list(pool.map(lambda part: (part @ columns).toarray(), parts))
        result += np.vstack(products)
    return result


def _halves(matrix: sparse.csr_matrix) -> list[sparse.csr_matrix]:
    if (os.cpu_count() or 1) < 2 or matrix.shape[0] < 2:
        return [matrix]
    middle = matrix.shape[0] // 2
    return [matrix[:middle], matrix[middle:]]


def _without(matrix: sparse.csr_matrix, columns: np.ndarray) -> sparse.csr_matrix:
    """The matrix with the flagged columns' entries left out."""
    kept = ~columns[matrix.indices]
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int32), np.diff(matrix.indptr))[kept]
    return from_rows(matrix.data[kept], matrix.indices[kept], rows, matrix.shape)


def from_rows(
    data: np.ndarray, indices: np.ndarray, rows: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    """A CSR matrix from entries already in row order (no sorting, unlike the COO route)."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sparse.csr_matrix((data, indices, indptr), shape=shape)
