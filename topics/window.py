"""The clustering window: the few fields clustering needs of each article, and its term counts.

Counting terms (topics/vectorize.py count_terms) is the costly part of turning articles into
vectors, and an article's counts stay the same while its text and the counting code do. So the
first run that meets an article stores its counts (ArticleTerms) and later runs load them: a
run counts only the articles that are new or changed. IDF and everything after it are still
computed from the window on every run, so nothing stored makes results drift.

"Changed" is told by digests: the stored counts keep the MD5 of the title and text they were
counted from, and each run has the database work out the current one. A generated column
would spare that hashing (about 0.4 s a run over 30,000 full texts), but on SQLite it would
call a function only Django registers, so the sqlite3 shell could no longer write articles
nor restore a `.dump`: not worth it for the embedded default.
"""

import dataclasses
import datetime as dt

import numpy as np
from django.db.models import F, QuerySet, TextField, Value
from django.db.models.functions import MD5, Concat
from scipy import sparse

from topics.models import Article, ArticleTerms
from topics.vectorize import COUNTS_VERSION, TERM_SPACE, count_terms

# Articles counted (and stored) at a time: bounds the memory a first run over a full window takes.
COUNT_BATCH = 2000
# A count that would not fit the stored uint16 (a term 65,536 times in 20,000 characters cannot
# happen, but the format must not wrap).
_MAX_COUNT = np.iinfo(np.uint16).max


@dataclasses.dataclass(frozen=True)
class WindowArticle:
    pk: int
    source_id: int
    identity: str
    published_at: dt.datetime
    topic_id: int | None
    topic_locked: bool
    topic_is_locked: bool  # False when the article has no topic


@dataclasses.dataclass
class Window:
    """The window's articles, oldest first, and their term counts (one row each, uint16)."""

    articles: list[WindowArticle]
    counts: sparse.csr_matrix


def load_window(now: dt.datetime, hours: int) -> Window:
    """The window's articles and term counts; counts missing or out of date are made and stored.

    Costs one query for the window, plus a query and an upsert per COUNT_BATCH articles counted.
    """
    articles: list[WindowArticle] = []
    packed: list[bytes] = []
    stale: list[int] = []
    window = _in_window(now, hours).annotate(current=_digest(), stored=F("terms__digest"))
    fields = [*_ARTICLE_FIELDS, "current", "stored", "terms__version", "terms__counts"]
    for row in window.values_list(*fields).iterator(chunk_size=2000):
        pk, source_id, identity, published_at, topic_id, topic_locked, topic_is_locked = row[:7]
        articles.append(
            WindowArticle(
                pk, source_id, identity, published_at, topic_id, topic_locked, bool(topic_is_locked)
            )
        )
        current, stored, version, blob = row[7:]
        if stored == current and version == COUNTS_VERSION:
            packed.append(bytes(blob))
        else:
            stale.append(len(packed))
            packed.append(b"")
    counted = _count_and_store([articles[i].pk for i in stale])
    for i in stale:
        packed[i] = counted[articles[i].pk]
    return Window(articles, _stack(packed))


_ARTICLE_FIELDS = (
    "pk", "source_id", "identity", "published_at", "topic_id", "topic_locked",
    "topic__is_locked",
)  # fmt: skip


def _in_window(now: dt.datetime, hours: int) -> QuerySet[Article]:
    return Article.objects.in_window(now, hours).order_by("published_at", "pk")


def _digest() -> MD5:
    return MD5(Concat("title", Value("\n"), "text", output_field=TextField()))


def _count_and_store(pks: list[int]) -> dict[int, bytes]:
    """Count the articles' terms and store them; returns each article's packed counts.

    An upsert: a run counting the same article at the same time stores the same thing.
    """
    counted: dict[int, bytes] = {}
    for start in range(0, len(pks), COUNT_BATCH):
        found = Article.objects.filter(pk__in=pks[start : start + COUNT_BATCH])
        rows = found.annotate(current=_digest()).values_list("pk", "title", "text", "current")
        pk_list, titles, texts, digests = zip(*rows, strict=True)
        counts = count_terms(list(titles), list(texts))
        for n, pk in enumerate(pk_list):
            first, last = counts.indptr[n], counts.indptr[n + 1]
            counted[pk] = _pack(counts.indices[first:last], counts.data[first:last])
        stored = [
            ArticleTerms(article_id=pk, version=COUNTS_VERSION, digest=digest, counts=counted[pk])
            for pk, digest in zip(pk_list, digests, strict=True)
        ]
        ArticleTerms.objects.bulk_create(
            stored,
            update_conflicts=True,
            unique_fields=["article"],
            update_fields=["version", "digest", "counts"],
        )
    return counted


def _pack(buckets: np.ndarray, counts: np.ndarray) -> bytes:
    clipped = np.minimum(counts, _MAX_COUNT)
    return bytes(buckets.astype("<u4").tobytes() + clipped.astype("<u2").tobytes())


def _stack(packed: list[bytes]) -> sparse.csr_matrix:
    """One CSR matrix of packed count rows (each row's buckets ascending, as count_terms
    makes them), filled in place: a full window has some 15 million entries. The counts stay
    uint16, as stored: weighing converts them a block of rows at a time."""
    sizes = np.array([len(blob) // 6 for blob in packed], dtype=np.int64)
    indptr = np.zeros(len(packed) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    buckets = np.empty(indptr[-1], dtype=np.int32)
    counts = np.empty(indptr[-1], dtype=np.uint16)
    for blob, size, start in zip(packed, sizes, indptr, strict=False):
        buckets[start : start + size] = np.frombuffer(blob, "<u4", size)
        counts[start : start + size] = np.frombuffer(blob, "<u2", size, offset=4 * size)
    return sparse.csr_matrix((counts, buckets, indptr), shape=(len(packed), TERM_SPACE))
