"""Placement's shortcuts (topics/placement.py, topics/duplicates.py) against the plain
computation: the full faded similarity matrix, every topic, near-duplicates from that matrix."""

import numpy as np
import pytest
from scipy import sparse

from topics.clustering import (
    GROUP_SEPARATION,
    MERGE_THRESHOLD,
    SAME_STORY_SIMILARITY,
    plan_placement,
    time_faded,
)
from topics.duplicates import near_duplicate_links
from topics.placement import Merger, Plan, Topics


def _window(seed: int) -> tuple[sparse.csr_matrix, np.ndarray, list[int | None], list[bool]]:
    """Stories (a shared term profile plus each article's own words) over four days. The older
    half of the articles sit in topics (one of them broad, lumping four stories; one taking no
    members); wire copies, new, come a few hours after older articles."""
    rng = np.random.default_rng(seed)
    stories, per_story, terms = 20, 10, 400
    profiles = rng.random((stories, terms)) * (rng.random((stories, terms)) < 0.05)
    rows, hours, story_of = [], [], []
    for s in range(stories):
        start = rng.uniform(0, 90)
        for _ in range(per_story):
            own = rng.random(terms) * (rng.random(terms) < 0.03)
            rows.append(profiles[s] * rng.uniform(0.3, 1.5) + own)
            hours.append(start + rng.exponential(5))
            story_of.append(s)
    middle = float(np.median(hours))
    is_new = [h >= middle for h in hours]
    for copy_of in rng.choice(len(rows), 16, replace=False):  # lightly edited
        rows.append(rows[copy_of] + rng.random(terms) * (rng.random(terms) < 0.01))
        hours.append(hours[copy_of] + rng.uniform(0, 3))
        story_of.append(story_of[copy_of])
        is_new.append(True)
    matrix = np.array(rows)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    broad = {3: 4, 6: 4, 7: 4}
    topic_of: list[int | None] = [
        None if new or s == 5 else 100 + broad.get(s, s)
        for s, new in zip(story_of, is_new, strict=True)
    ]
    return sparse.csr_matrix(matrix), np.array(hours), topic_of, is_new


def _plain_plan(
    vectors: sparse.csr_matrix, hours: np.ndarray, topic_of: list[int | None], is_new: list[bool]
) -> Plan:
    new_idx = np.flatnonzero(is_new)
    dense = vectors.toarray()
    unfaded = dense[new_idx] @ dense.T
    similarity = time_faded(unfaded, np.abs(hours[new_idx, None] - hours[None, :]))
    ids = sorted({t for t, new in zip(topic_of, is_new, strict=True) if t and not new})
    members = [[i for i, t in enumerate(topic_of) if t == topic] for topic in ids]
    topics = Topics(
        ids,
        np.array([len(m) for m in members], dtype=np.float64),
        np.column_stack([similarity[:, m].sum(axis=1) for m in members]),
        np.array([(dense[m].sum(0) @ dense[m].sum(0) - len(m)) / 2 for m in members]),
        np.column_stack([unfaded[:, m].sum(axis=1) for m in members]),
    )
    merger = Merger(
        similarity[:, new_idx],
        new_idx,
        topics,
        GROUP_SEPARATION,
        unfaded=unfaded[:, new_idx],
        same_story=SAME_STORY_SIMILARITY,
    )
    eligible = np.array([t is not None for t in topic_of]) | np.array(is_new)
    column = {int(i): r for r, i in enumerate(new_idx)}
    column.update((i, len(new_idx) + ids.index(t)) for i, t in enumerate(topic_of) if t in ids)
    links = near_duplicate_links(similarity, new_idx, eligible)
    merger.collapse([(row, column[item]) for row, item in links])
    merger.run(MERGE_THRESHOLD)
    return merger.plan()


@pytest.mark.parametrize("seed", range(6))
def test_bounded_placement_gives_the_plain_plan(seed: int) -> None:
    vectors, hours, topic_of, is_new = _window(seed)
    expected = _plain_plan(vectors, hours, topic_of, is_new)
    assert expected.joins and expected.groups  # the windows exercise both outcomes
    assert plan_placement(vectors, hours, topic_of, is_new) == expected
