"""Find near-duplicates: the same wire copy carried by several feeds.

Placement collapses them first, before average link looks at anything else: a copy of an
article that already has a topic joins that topic even when the topic has grown broad enough
that the copy's mean similarity to it is low, and copies of one new article stay together.
"""

import numpy as np

# Cosine (after the time fade) at which two articles are read as one text lightly edited:
# far above what two outlets' own reports of one event reach (0.3 to 0.6 on the labelled sets).
NEAR_DUPLICATE_SIMILARITY = 0.8


def near_duplicate_links(
    similarity: np.ndarray, new_idx: np.ndarray, eligible: np.ndarray
) -> list[tuple[int, int]]:
    """Pairs (new row, window item) of near-duplicates, most similar first.

    `similarity[r, j]` compares the new item `new_idx[r]` with window item j; only items with
    `eligible[j]` (new, or in a topic that takes members) count, and an item is never its own
    duplicate. Deterministic: ties go to the lowest row, then the lowest item.
    """
    rows, items = np.nonzero(similarity >= NEAR_DUPLICATE_SIMILARITY)
    keep = eligible[items] & (new_idx[rows] != items)
    rows, items = rows[keep], items[keep]
    order = np.lexsort((items, rows, -similarity[rows, items]))
    return [(int(rows[k]), int(items[k])) for k in order]
