"""Find near-duplicates: the same wire copy carried by several feeds.

Placement collapses them first, before average link looks at anything else: a copy of an
article that already has a topic joins that topic even when the topic has grown broad enough
that the copy's mean similarity to it is low, and copies of one new article stay together.
That is also why they are looked for among all the window's items, not only among the topics
placement finds within reach (topics/placement.py reachable_topics).
"""

import numpy as np

from topics.placement import Times
from topics.similarity import Vectors, pair_products

# Cosine (after the time fade) at which two articles are read as one text lightly edited:
# far above what two outlets' own reports of one event reach (0.3 to 0.6 on the labelled sets).
NEAR_DUPLICATE_SIMILARITY = 0.8
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
    vectors: Vectors, times: Times, new_idx: np.ndarray, eligible: np.ndarray
) -> list[tuple[int, int]]:
    """near_duplicate_links over the faded similarities of the new items to every window item,
    without computing them all: only items near enough in time are looked at, and of those only
    the pairs an exact bound (RareTerms) does not rule out are compared."""
    least = NEAR_DUPLICATE_SIMILARITY - FADE_ROUNDING
    reach = times.nearest_lenient(new_idx, np.arange(len(vectors)))
    candidates = np.flatnonzero(eligible & (reach >= least))
    # Only the pairs the bound lets through are compared (a fade never raises a similarity).
    rows, cols = vectors.rare_terms.pairs_reaching(new_idx, candidates, least)
    items = candidates[cols]
    other = new_idx[rows] != items  # an item is never its own duplicate
    rows, items = rows[other], items[other]
    similarities = pair_products(vectors, new_idx[rows], items)
    similarities = times.faded_pairs(similarities, new_idx[rows], items)
    close = similarities >= NEAR_DUPLICATE_SIMILARITY
    rows, items, similarities = rows[close], items[close], similarities[close]
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
