"""Hashed n-gram counts for many documents at once, without a vocabulary.

The same terms scikit-learn's analyzers give ("char_wb" character n-grams, word n-grams), but
hashed in bulk: scikit-learn's HashingVectorizer builds and hashes every n-gram as a Python
string, about 3 s per 10,000 feed items. Here character n-grams are hashed with numpy over all
documents at once (a polynomial hash over the code points), and each distinct word once, its
n-grams combining the words' hashes. Counts per document come from a single sort.

Terms land in buckets by the top bits of a 64-bit hash: a pure function of the term, the
same in every process and on every run.
"""

import hashlib
import itertools

import numpy as np
from scipy import sparse

# Odd multipliers (so that 2**64 arithmetic loses nothing) and the splitmix64 finaliser.
_BASE = np.uint64(0x100000001B3)
_LENGTH = 0x9E3779B97F4A7C15
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_SPACE = ord(" ")


def char_wb_ngrams(
    documents: list[str], ngram_range: tuple[int, int], bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """(document, bucket) of each character n-gram, as scikit-learn's analyzer="char_wb" makes
    them from already preprocessed documents: n-grams inside each word padded with a space on
    either side, and a padded word shorter than the shortest n-gram once, whole."""
    low, high = ngram_range
    padded = [" " + "  ".join(words) + " " if (words := doc.split()) else "" for doc in documents]
    owner = np.repeat(np.arange(len(padded)), [len(text) for text in padded])
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    space = codes == _SPACE
    # A window holding two spaces in a row spans two padded words (or two documents).
    doubled = np.concatenate([[0], np.cumsum(space[:-1] & space[1:])])
    rows, hashes = [], []
    polynomial = codes  # the hash of the n characters from each position on, n = 1, 2, ...
    for n in range(2, high + 1):
        polynomial = polynomial[:-1] * _BASE + codes[n - 1 :]
        if n < min(low, 3):
            continue
        # Where n-grams may start; none when all the text is shorter (an article alone with no
        # words: its lead ". " pads to three characters).
        starts_before = max(len(codes) - n + 1, 0)
        inside = doubled[n - 1 :] == doubled[:starts_before]
        if n < low:  # only a whole padded word this short counts
            inside &= space[:starts_before] & space[n - 1 :]
        starts = np.flatnonzero(inside)
        rows.append(owner[starts])
        hashes.append(_finish(polynomial[starts], n))
    return _joined(rows), _buckets(_joined(hashes), bits)


def token_ngrams(
    documents: list[list[str]], ngram_range: tuple[int, int], bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """(document, bucket) of each n-gram of consecutive tokens, as scikit-learn's word analyzer
    makes them after tokenizing (and dropping stop words): "a", "b", "a b"."""
    low, high = ngram_range
    tokens = list(itertools.chain.from_iterable(documents))
    number = {token: n for n, token in enumerate(dict.fromkeys(tokens))}
    ids = np.fromiter(map(number.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    token_hashes = np.array([_string_hash(token) for token in number], dtype=np.uint64)
    owner = np.repeat(np.arange(len(documents)), [len(doc) for doc in documents])
    rows, hashes = [], []
    for n in range(low, high + 1):
        starts = np.arange(max(len(ids) - n + 1, 0))
        starts = starts[owner[starts] == owner[starts + n - 1]]
        combined = token_hashes[ids[starts]]
        for k in range(1, n):
            combined = combined * _BASE + token_hashes[ids[starts + k]]
        rows.append(owner[starts])
        hashes.append(_finish(combined, n))
    return _joined(rows), _buckets(_joined(hashes), bits)


def count(
    terms: list[tuple[np.ndarray, np.ndarray, int]], documents: int, columns: int
) -> sparse.csr_matrix:
    """Count (document, bucket) pairs into a CSR matrix; each part's buckets are shifted by its
    offset. Rows list their columns in ascending order."""
    keys = np.concatenate(
        [rows.astype(np.int64) << 32 | (buckets + offset) for rows, buckets, offset in terms]
    )
    keys.sort()
    first = np.ones(len(keys), dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(keys))).astype(np.float32)
    distinct = keys[starts]
    indptr = np.zeros(documents + 1, dtype=np.int64)
    np.cumsum(np.bincount(distinct >> 32, minlength=documents), out=indptr[1:])
    indices = (distinct & 0xFFFFFFFF).astype(np.int32)
    return sparse.csr_matrix((counts, indices, indptr), shape=(documents, columns))


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _string_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


def _finish(hashes: np.ndarray, n: int) -> np.ndarray:
    """Mix the n-gram's length in, then spread every input bit over the output (splitmix64)."""
    mixed = hashes ^ np.uint64(n * _LENGTH % 2**64)
    mixed = (mixed ^ (mixed >> np.uint64(30))) * _MIX[0]
    mixed = (mixed ^ (mixed >> np.uint64(27))) * _MIX[1]
    return mixed ^ (mixed >> np.uint64(31))


def _buckets(hashes: np.ndarray, bits: int) -> np.ndarray:
    return (hashes >> np.uint64(64 - bits)).astype(np.int64)
