"""Turn articles into term counts, the first of the two steps that make their vectors.

Three views of each article, weighed and stacked later (topics/weighing.py) so that a dot
product is a weighted mean of three cosines:
- words and word pairs, with the title counted more than the body;
- character n-grams of the title and lead, which match "tariff"/"tariffs", "Powell's"/"Powell";
- name-like terms (capitalised sequences, numbers) which pin down the event: who, where, how many.

`count_terms` reads each article on its own into hashed term counts, the costly step, done once
per article: no vocabulary is fitted, so an article's counts never change and can be stored
(topics/window.py). Weighing them into TF-IDF vectors is topics/weighing.py's job, so that
changing how counts are weighed never makes stored counts stale.
"""

import hashlib
import re
from pathlib import Path

import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from topics import hashing

# Titles carry most of the story in a feed item, so they count more than the body.
TITLE_REPEAT = 4
# A cap that keeps vectorizing cheap; generous, because full texts cluster better than leads.
TEXT_CHARS = 20000
# Character n-grams and names look at the title and the lead only: that is where the event is.
LEAD_CHARS = 300

# Hash buckets per view: so many that two terms of one window rarely share one (about five
# pairs among 100,000 distinct words). A shared bucket can move the similarity of two short
# articles by 0.02: with 2**22 buckets for words, neus_dev lost 0.001 BCubed F1.
WORD_BITS, CHAR_BITS, NAME_BITS = 30, 29, 28
# Columns of count_terms: words, then character n-grams, then names (under 2**31 in all).
VIEW_STARTS = (0, 2**WORD_BITS, 2**WORD_BITS + 2**CHAR_BITS)
TERM_SPACE = 2**WORD_BITS + 2**CHAR_BITS + 2**NAME_BITS

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
