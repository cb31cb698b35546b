"""Turn articles into vectors whose dot products say how likely two articles share a story.

Three views of each article, each TF-IDF weighted and L2-normalised, then stacked with weights
so that a dot product is a weighted mean of three cosines:
- words and word pairs, with the title counted more than the body;
- character n-grams of the title and lead, which match "tariff"/"tariffs", "Powell's"/"Powell";
- name-like terms (capitalised sequences, numbers) which pin down the event: who, where, how many.
IDF is fitted on the documents given (the clustering window), so the same window always gives
the same vectors: nothing learned in one run carries over to drift the next.
"""

import re

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

# Titles carry most of the story in a feed item, so they count more than the body.
TITLE_REPEAT = 4
# A cap that keeps vectorizing cheap; generous, because full texts cluster better than leads.
TEXT_CHARS = 20000
# Character n-grams and names look at the title and the lead only: that is where the event is.
LEAD_CHARS = 300
# Weights of the three views (their squares sum to 1, so self-similarity stays 1).
WORD_WEIGHT = 0.8
CHAR_WEIGHT = 0.7
NAME_WEIGHT = 0.15

_NAME = re.compile(r"\b(?:[A-Z][\w'’.-]*(?:\s+(?:of\s+|de\s+)?[A-Z][\w'’.-]*)*|\d[\d,.]*%?)")

_POSSESSIVE = re.compile(r"['’]s?$")


def vectorize(titles: list[str], texts: list[str]) -> sparse.csr_matrix:
    """One L2-normalised row per article (all zeros when it has nothing to go on)."""
    pairs = list(zip(titles, texts, strict=True))
    leads = [_lead(title, text) for title, text in pairs]
    weights = _view_weights()
    views = [
        (weights[0], _fit(_word_vectorizer(), [_document(title, text) for title, text in pairs])),
        (weights[1], _fit(_char_vectorizer(), leads)),
        (weights[2], _fit(_name_vectorizer(), [_names(lead) for lead in leads])),
    ]
    stacked = sparse.hstack([w * v for w, v in views if w]).tocsr().astype(np.float32)
    return normalize(stacked)


def _view_weights() -> tuple[float, float, float]:
    raw = np.array([WORD_WEIGHT, CHAR_WEIGHT, NAME_WEIGHT], dtype=np.float64)
    scaled = raw / np.linalg.norm(raw)
    return float(scaled[0]), float(scaled[1]), float(scaled[2])


def _document(title: str, text: str) -> str:
    return " ".join([title] * TITLE_REPEAT + [text[:TEXT_CHARS]])


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


def _fit(vectorizer: TfidfVectorizer, documents: list[str]) -> sparse.csr_matrix:
    try:
        return vectorizer.fit_transform(documents).tocsr()
    except ValueError:  # empty vocabulary: only stop words, numbers or nothing at all
        return sparse.csr_matrix((len(documents), 1), dtype=np.float32)


def _word_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        ngram_range=(1, 2),
        sublinear_tf=True,
        stop_words="english",
        strip_accents="unicode",
        dtype=np.float32,
    )


def _char_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(4, 5),
        sublinear_tf=True,
        strip_accents="unicode",
        min_df=2,
        dtype=np.float32,
    )


def _name_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        token_pattern=r"\S+", lowercase=False, sublinear_tf=True, dtype=np.float32
    )
