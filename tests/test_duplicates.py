import numpy as np
from scipy import sparse

from topics.clustering import plan_placement
from topics.duplicates import near_duplicate_links


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
