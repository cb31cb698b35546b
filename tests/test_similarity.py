from unittest import mock

import numpy as np
from scipy import sparse

from topics.similarity import Vectors, dot_products


def _vectors(seed: int, rows: int = 60) -> Vectors:
    """Rows over a Zipf-like vocabulary, so that some columns go dense and most stay sparse."""
    random = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 2001)
    matrix = np.zeros((rows, 2000), dtype=np.float32)
    for row in matrix:
        row[random.choice(2000, size=50, p=weights / weights.sum())] = random.random(50)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return Vectors.split(sparse.csr_matrix(matrix))


def _scipy_products(a: Vectors, b: Vectors) -> np.ndarray:
    """What dot_products gave through scipy's public sparse product."""
    return a.dense @ b.dense.T + (a.rest @ b.rest.T.tocsr()).toarray()


def test_dot_products_are_scipys_sparse_products_bit_for_bit() -> None:
    window = _vectors(seed=1)
    # Summed rows, as topic sums are: their sparse entries are not in column order.
    topics = window.summed(sparse.csr_matrix(np.kron(np.eye(12), np.ones(5))))
    cases = [(window.rows(np.arange(0, 60, 3)), window), (window, topics), (topics, window)]
    # Blocks of one row, of a few rows and of all rows; on one thread and on two.
    for block_entries in (1, 100, 2**21):
        for threaded_entries in (0, 10**9):
            with (
                mock.patch("topics.similarity.PRODUCT_BLOCK_ENTRIES", block_entries),
                mock.patch("topics.similarity.THREADED_ENTRIES", threaded_entries),
            ):
                for a, b in cases:
                    # Bit for bit: placement's plans must not change with the route taken.
                    np.testing.assert_array_equal(dot_products(a, b), _scipy_products(a, b))


def test_dot_products_with_no_rows_or_no_sparse_entries_are_the_dense_products() -> None:
    window = _vectors(seed=2)
    assert dot_products(window.rows(np.arange(0)), window).shape == (0, 60)
    dense_only = Vectors(window.dense, sparse.csr_matrix(window.rest.shape, dtype=np.float32))
    np.testing.assert_array_equal(dot_products(dense_only, window), window.dense @ window.dense.T)
