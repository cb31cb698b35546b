import datetime as dt
from unittest import mock

import numpy as np
from django.test import TestCase
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from tests.factories import make_article
from tests.test_clustering import FED, FOOTBALL, LAUNCH, NOW
from topics.models import Article, ArticleTerms
from topics.similarity import Vectors, dense_columns, dot_products
from topics.vectorize import _lead, _names, count_terms
from topics.weighing import _view_weights, vectorize, weigh, weighed_vectors
from topics.window import load_window

DOCS = FED + LAUNCH + FOOTBALL


def tfidf_reference(titles: list[str], texts: list[str]) -> sparse.csr_matrix:
    """The three fitted TfidfVectorizer views vectorize() stood for before counts were hashed."""
    leads = [_lead(title, text) for title, text in zip(titles, texts, strict=True)]
    documents = [" ".join([t] * 4 + [x]) for t, x in zip(titles, texts, strict=True)]
    views = [
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english",
                        strip_accents="unicode").fit_transform(documents),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(4, 5), sublinear_tf=True,
                        strip_accents="unicode", min_df=2).fit_transform(leads),
        TfidfVectorizer(token_pattern=r"\S+", lowercase=False,
                        sublinear_tf=True).fit_transform([_names(lead) for lead in leads]),
    ]  # fmt: skip
    weights = _view_weights()
    return normalize(sparse.hstack([w * v for w, v in zip(weights, views, strict=True)]).tocsr())


def test_hashed_counts_give_the_similarities_of_fitted_tf_idf() -> None:
    titles, texts = (list(column) for column in zip(*DOCS, strict=True))
    expected = (tfidf_reference(titles, texts) @ tfidf_reference(titles, texts).T).toarray()
    vectors = vectorize(titles, texts)
    # Hash buckets this wide hold one term each here, so the similarities are the same.
    np.testing.assert_allclose((vectors @ vectors.T).toarray(), expected, atol=1e-5)


def test_an_article_with_neither_title_nor_text_alone_gets_an_empty_row() -> None:
    # Its lead is ". ", three characters padded: shorter than the character n-grams.
    vectors = vectorize([""], [""])

    assert vectors.shape[0] == 1
    assert vectors.nnz == 0


def test_dense_and_sparse_columns_add_up_to_the_plain_product() -> None:
    titles, texts = (list(column) for column in zip(*DOCS, strict=True))
    matrix = vectorize(titles, texts)
    split = Vectors.split(matrix)
    # Some columns went dense: " fed", "rais" and the like appear in most of these articles.
    assert split.dense.shape[1] > 0
    np.testing.assert_allclose(
        dot_products(split.rows(np.arange(3)), split), (matrix[:3] @ matrix.T).toarray(), atol=1e-5
    )


def assert_same_vectors(got: Vectors, expected: Vectors) -> None:
    """Bit for bit: the same floats in the same places, so every later sum is the same."""
    np.testing.assert_array_equal(got.dense, expected.dense)
    for name in ("rest", "rare"):
        a = got.rest if name == "rest" else got.rare_terms.rare
        b = expected.rest if name == "rest" else expected.rare_terms.rare
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(a, part), getattr(b, part), err_msg=name)
    np.testing.assert_array_equal(got.rare_terms.rest_lengths, expected.rare_terms.rest_lengths)


def test_split_puts_each_entry_in_its_dense_or_its_sparse_column_once() -> None:
    titles, texts = (list(column) for column in zip(*DOCS, strict=True))
    matrix = vectorize(titles, texts)
    split = Vectors.split(matrix)
    columns = dense_columns(np.bincount(matrix.indices), matrix.shape[0])
    np.testing.assert_array_equal(split.dense, matrix[:, columns].toarray())
    rest = matrix.tolil()
    rest[:, columns] = 0
    assert (split.rest != rest.tocsr()).nnz == 0
    # The rare terms split made along the way are the ones RareTerms.of makes from the parts.
    assert_same_vectors(split, Vectors(split.dense, split.rest))


def test_weighing_a_block_of_rows_at_a_time_gives_the_same_vectors() -> None:
    titles, texts = (list(column) for column in zip(*DOCS, strict=True))
    # An article with nothing to count (an empty row) must keep its place among the rows.
    counts = count_terms([*titles, ""], [*texts, ""])
    expected = Vectors.split(weigh(counts))  # all rows in one block
    # Blocks of about 40 entries: a few rows each, some rows alone.
    with mock.patch("topics.weighing.BLOCK_ENTRIES", 40):
        assert_same_vectors(weighed_vectors(counts), expected)


def test_an_empty_window_weighs_to_no_vectors() -> None:
    vectors = weighed_vectors(count_terms([], []))
    assert (len(vectors), vectors.rest.nnz, vectors.rare_terms.rare.nnz) == (0, 0, 0)


def counted_now(article: Article) -> sparse.csr_matrix:
    """The article's term counts as count_terms makes them from its current title and text."""
    return count_terms([article.title], [article.text])


class StoredCountsTests(TestCase):
    def test_a_window_counts_each_article_once_and_again_when_its_text_changes(self) -> None:
        article = make_article(title=FED[0][0], text=FED[0][1], published_at=NOW)
        first = load_window(NOW, 72).counts
        stored = ArticleTerms.objects.get(article=article)

        with self.assertNumQueries(1):  # the window's one query: nothing to count
            again = load_window(NOW, 72).counts
        self.assertEqual((first != again).nnz, 0)

        article.text = LAUNCH[0][1]
        article.save()
        changed = load_window(NOW, 72).counts
        self.assertNotEqual(ArticleTerms.objects.get(article=article).digest, stored.digest)
        self.assertNotEqual((first != changed).nnz, 0)

    def test_a_title_or_text_changed_without_save_is_counted_again(self) -> None:
        # The database works out the digest the stored counts are checked against, so writes
        # that bypass save() (ingestion's bulk_update, a queryset update) cannot leave stale
        # counts.
        article = make_article(title=FED[0][0], text=FED[0][1], published_at=NOW)
        first = load_window(NOW, 72).counts

        Article.objects.filter(pk=article.pk).update(title=LAUNCH[0][0])
        retitled = load_window(NOW, 72).counts
        self.assertNotEqual((first != retitled).nnz, 0)

        article.refresh_from_db()
        article.text = LAUNCH[0][1]
        Article.objects.bulk_update([article], ["text"])
        rewritten = load_window(NOW, 72).counts
        self.assertNotEqual((retitled != rewritten).nnz, 0)
        self.assertEqual((rewritten != counted_now(article)).nnz, 0)

    def test_only_window_articles_are_counted(self) -> None:
        make_article(title=FED[0][0], text=FED[0][1], published_at=NOW - dt.timedelta(days=5))
        self.assertEqual(load_window(NOW, 72).counts.shape[0], 0)
        self.assertFalse(ArticleTerms.objects.exists())
