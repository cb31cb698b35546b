"""Turn articles into vectors whose dot products say how likely two articles share a story.

Three views of each article, each TF-IDF weighted and L2-normalised, then stacked with weights
so that a dot product is a weighted mean of three cosines:
- words and word pairs, with the title counted more than the body;
- character n-grams of the title and lead, which match "tariff"/"tariffs", "Powell's"/"Powell";
- name-like terms (capitalised sequences, numbers) which pin down the event: who, where, how many.

Two steps, so that the costly one is done once per article rather than once per run:
- `count_terms` reads each article on its own into hashed term counts. No vocabulary is
  fitted, so an article's counts never change and can be stored (topics/window.py);
- `weigh` turns the counts of a whole window into TF-IDF vectors, with IDF taken from that
  window: the same window always gives the same vectors, and nothing learned in one run
  carries over to drift the next. `weighed_vectors` gives the same vectors already split for
  fast products (topics/similarity.py Vectors), a block of rows at a time.
`vectorize(titles, texts)` does both.
"""

import dataclasses
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from topics import hashing
from topics.similarity import Vectors, from_rows

# Titles carry most of the story in a feed item, so they count more than the body.
TITLE_REPEAT = 4
# A cap that keeps vectorizing cheap; generous, because full texts cluster better than leads.
TEXT_CHARS = 20000
# Character n-grams and names look at the title and the lead only: that is where the event is.
LEAD_CHARS = 300
# Weights of the three views (scaled so their squares sum to 1: self-similarity stays 1).
WORD_WEIGHT = 0.8
CHAR_WEIGHT = 0.7
NAME_WEIGHT = 0.15
# Character n-grams seen in a single article of the window say nothing about shared stories.
CHAR_MIN_DF = 2

# Hash buckets per view: so many that two terms of one window rarely share one (about five
# pairs among 100,000 distinct words). A shared bucket can move the similarity of two short
# articles by 0.02: with 2**22 buckets for words, neus_dev lost 0.001 BCubed F1.
WORD_BITS, CHAR_BITS, NAME_BITS = 30, 29, 28
# Columns of count_terms: words, then character n-grams, then names (under 2**31 in all).
VIEW_STARTS = (0, 2**WORD_BITS, 2**WORD_BITS + 2**CHAR_BITS)
TERM_SPACE = 2**WORD_BITS + 2**CHAR_BITS + 2**NAME_BITS
# Weighing goes a block of about this many entries (term counts) at a time.
BLOCK_ENTRIES = 2**20
# Bits of a term's bucket that pick its slot in the tables weigh() numbers terms with.
_SLOT_BITS = 22
_SLOTS = 2**_SLOT_BITS

# Stored counts are only reused while the code that made them is the same: any edit to this
# module or topics/hashing.py (or another scikit-learn) gives them a new version, and they are
# counted again.
COUNTS_VERSION = hashlib.sha256(
    b"".join(Path(module).read_bytes() for module in (__file__, hashing.__file__))
    + sklearn.__version__.encode()
).hexdigest()[:16]

_NAME = re.compile(r"\b(?:[A-Z][\w'’.-]*(?:\s+(?:of\s+|de\s+)?[A-Z][\w'’.-]*)*|\d[\d,.]*%?)")

_POSSESSIVE = re.compile(r"['’]s?$")

# Only the analyzers' settings are used (preprocessing, tokens, stop words, n-gram sizes): the
# terms are hashed and counted by topics/hashing.py.
_WORDS = CountVectorizer(ngram_range=(1, 2), stop_words="english", strip_accents="unicode")
_CHARS = CountVectorizer(analyzer="char_wb", ngram_range=(4, 5), strip_accents="unicode")


def vectorize(titles: list[str], texts: list[str]) -> sparse.csr_matrix:
    """One L2-normalised row per article (all zeros when it has nothing to go on)."""
    return weigh(count_terms(titles, texts))


def count_terms(titles: list[str], texts: list[str]) -> sparse.csr_matrix:
    """Raw term counts, one row per article and TERM_SPACE columns; a row depends on its
    article alone."""
    pairs = list(zip(titles, texts, strict=True))
    leads = [_lead(title, text) for title, text in pairs]
    words = [_words(title, text) for title, text in pairs]
    chars = [_CHARS.build_preprocessor()(lead) for lead in leads]
    names = [_names(lead).split() for lead in leads]
    terms = [
        (*hashing.token_ngrams(words, _WORDS.ngram_range, WORD_BITS), VIEW_STARTS[0]),
        (*hashing.char_wb_ngrams(chars, _CHARS.ngram_range, CHAR_BITS), VIEW_STARTS[1]),
        (*hashing.token_ngrams(names, (1, 1), NAME_BITS), VIEW_STARTS[2]),
    ]
    return hashing.count(terms, len(pairs), TERM_SPACE)


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


def _words(title: str, text: str) -> list[str]:
    """The words of the title, TITLE_REPEAT times, then of the text (stop words dropped)."""
    preprocess, tokenize = _WORDS.build_preprocessor(), _WORDS.build_tokenizer()
    stop_words = _WORDS.get_stop_words() or frozenset()
    title_words, text_words = (
        [word for word in tokenize(preprocess(part)) if word not in stop_words]
        for part in (title, text[:TEXT_CHARS])
    )
    return title_words * TITLE_REPEAT + text_words


def _lead(title: str, text: str) -> str:
    return f"{title}. {text[:LEAD_CHARS]}"


def _names(text: str) -> str:
    """Name-like terms joined into tokens: "Jerome Powell said" -> "jerome_powell"."""
    names = []
    for match in _NAME.finditer(text):
        term = _POSSESSIVE.sub("", match.group(0).rstrip(".,"))
        if _starts_sentence(text, match.start()) and " " not in term:
            continue  # a lone capital at a sentence start is usually just a word
        names.append(re.sub(r"\W+", "_", term.casefold()).strip("_"))
    return " ".join(n for n in names if n)


def _starts_sentence(text: str, start: int) -> bool:
    before = text[max(0, start - 3) : start]
    return start == 0 or bool(re.search(r"[.!?:\"“]\s*$", before))
