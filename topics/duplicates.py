"""Find near-duplicates: the same wire copy carried by several feeds.

Placement collapses them first, before average link looks at anything else: a copy of an
article that already has a topic joins that topic even when the topic has grown broad enough
that the copy's mean similarity to it is low, and copies of one new article stay together.
That is also why they are looked for among all the window's items, not only among the topics
placement finds within reach (topics/placement.py reachable_topics).
"""

import numpy as np

from topics.placement import Times
from topics.similarity import Vectors, dot_products

# Cosine (after the time fade) at which two articles are read as one text lightly edited:
# far above what two outlets' own reports of one event reach (0.3 to 0.6 on the labelled sets).
NEAR_DUPLICATE_SIMILARITY = 0.8
# Window items compared with the new ones at a time (bounds the m×n product's memory).
CHUNK_ITEMS = 4096
# Items whose most lenient fade misses the similarity by less than float32 rounding still count.
FADE_ROUNDING = 1e-4


def near_duplicate_links(
    similarity: np.ndarray, new_idx: np.ndarray, eligible: np.ndarray
) -> list[tuple[int, int]]:
    """Pairs (new row, window item) of near-duplicates, most similar first.

    `similarity[r, j]` compares the new item `new_idx[r]` with window item j; only items with
    `eligible[j]` (new, or in a topic that takes members) count, and an item is never its own
    duplicate. Deterministic: ties go to the lowest row, then the lowest item.
    """
    rows, items = np.nonzero(similarity >= NEAR_DUPLICATE_SIMILARITY)
    return _ordered(rows, items, similarity[rows, items], new_idx, eligible)


def find_near_duplicates(
    vectors: Vectors, new: Vectors, times: Times, new_idx: np.ndarray, eligible: np.ndarray
) -> list[tuple[int, int]]:
    """near_duplicate_links over the faded similarities of the new items to every window item,
    without computing them all: only items near enough in time are looked at, a chunk at a time,
    and of those only the pairs an exact bound (RareTerms) does not rule out are compared."""
    reach = times.nearest_lenient(new_idx, np.arange(len(vectors)))
    candidates = np.flatnonzero(eligible & (reach >= NEAR_DUPLICATE_SIMILARITY - FADE_ROUNDING))
    found = [(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))]
    least = NEAR_DUPLICATE_SIMILARITY - FADE_ROUNDING  # a fade never raises a similarity
    for start in range(0, len(candidates), CHUNK_ITEMS):
        chunk = candidates[start : start + CHUNK_ITEMS]
        # Only the rows and items of pairs the bound lets through are compared.
        rows, cols = vectors.rare_terms.pairs_reaching(new_idx, chunk, least)
        rows, cols = np.unique(rows), chunk[np.unique(cols)]
        similarity = dot_products(new.rows(rows), vectors.rows(cols))
        similarity = times.faded(similarity, new_idx[rows], cols)
        hits, items = np.nonzero(similarity >= NEAR_DUPLICATE_SIMILARITY)
        found.append((rows[hits], cols[items], similarity[hits, items]))
    rows, items, similarities = (np.concatenate(parts) for parts in zip(*found, strict=True))
    return _ordered(rows, items, similarities, new_idx, eligible)


def _ordered(
    rows: np.ndarray,
    items: np.ndarray,
    similarities: np.ndarray,
    new_idx: np.ndarray,
    eligible: np.ndarray,
) -> list[tuple[int, int]]:
    keep = eligible[items] & (new_idx[rows] != items)
    rows, items, similarities = rows[keep], items[keep], similarities[keep]
    order = np.lexsort((items, rows, -similarities))
    return [(int(rows[k]), int(items[k])) for k in order]
