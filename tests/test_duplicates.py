import numpy as np
from scipy import sparse

from topics.clustering import plan_placement, time_fade
from topics.duplicates import find_near_duplicates, near_duplicate_links
from topics.placement import Times
from topics.similarity import Vectors, dot_products


def test_near_duplicates_are_linked_most_similar_first_never_to_themselves() -> None:
    similarity = np.array(
        [
            [1.0, 0.85, 0.2, 0.95],  # new item 0: a copy of items 1 and 3
            [0.85, 1.0, 0.9, 0.1],  # new item 1: a copy of item 2, which takes no members
        ]
    )
    links = near_duplicate_links(similarity, np.array([0, 1]), np.array([1, 1, 0, 1], bool))
    assert links == [(0, 3), (0, 1), (1, 0)]


def test_a_wire_copy_joins_its_twin_s_topic_however_broad_the_topic() -> None:
    # Topic 7 holds eight unrelated articles; the new item is a copy of the first of them, so
    # its mean similarity to the topic (1/8) is below the placement threshold.
    vectors = sparse.csr_matrix(np.vstack([np.eye(9)[:8], np.eye(9)[0]]))
    topic_of = [7] * 8 + [None]
    plan = plan_placement(vectors, np.zeros(9), topic_of, [False] * 8 + [True])
    assert plan.joins == {7: [8]}


def test_copies_of_a_new_article_form_one_group() -> None:
    vectors = sparse.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    plan = plan_placement(vectors, np.zeros(3), [None] * 3, [True] * 3)
    assert plan.groups == [[0, 1], [2]]


def _window_with_copies(seed: int) -> sparse.csr_matrix:
    """60 random sparse rows over a Zipf-like vocabulary, and 20 lightly edited copies of them."""
    random = np.random.default_rng(seed)
    weights = 1.0 / np.sqrt(np.arange(1, 3001))
    originals = np.zeros((60, 3000))
    for row in originals:
        row[random.choice(3000, size=40, p=weights / weights.sum())] = random.random(40)
    copies = originals[random.choice(60, size=20)] * random.uniform(0.9, 1.1, (20, 3000))
    matrix = np.vstack([originals, copies])
    return sparse.csr_matrix(matrix / np.linalg.norm(matrix, axis=1, keepdims=True))


def test_the_bound_lets_through_every_pair_that_reaches_the_similarity() -> None:
    vectors = Vectors.split(_window_with_copies(seed=3))
    rows, cols = np.arange(0, 80, 2), np.arange(80)
    similarity = dot_products(vectors.rows(rows), vectors.rows(cols))
    found = vectors.rare_terms.pairs_reaching(rows, cols, 0.8)
    through = np.zeros_like(similarity, dtype=bool)
    through[found] = True
    assert (similarity >= 0.8).sum() > len(rows)  # some pairs besides each row with itself
    assert not ((similarity >= 0.8) & ~through).any()
    assert through.sum() < through.size / 2  # and most pairs are ruled out


def test_the_near_duplicate_search_finds_what_comparing_every_pair_finds() -> None:
    for seed in range(5):
        vectors = Vectors.split(_window_with_copies(seed))
        hours = np.random.default_rng(seed).uniform(0, 72, 80)
        times = Times(hours, None, time_fade)
        new_idx = np.arange(40, 80)
        eligible = np.ones(80, dtype=bool)
        eligible[::7] = False
        everything = times.faded(
            dot_products(vectors.rows(new_idx), vectors), new_idx, np.arange(80)
        )
        expected = near_duplicate_links(everything, new_idx, eligible)
        found = find_near_duplicates(vectors, times, new_idx, eligible)
        assert len(expected) > 5
        # The same links; their order may differ where two similarities differ by float32
        # rounding (a pair and its mirror, computed in two products).
        assert sorted(found) == sorted(expected)
