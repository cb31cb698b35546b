"""Extractive summaries: the sentences that best stand for a topic, without saying things twice.

A sentence scores by its cosine similarity to the topic's centroid (each article weighs the
same, however long), nudged towards the top of its article where news puts the essentials.
Selection is maximal marginal relevance, so a second outlet's version of the same sentence
does not make the cut.
"""

import dataclasses
import re

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

# Sentences outside these bounds are usually captions, bylines or run-on lists.
MIN_SENTENCE_CHARS = 40
MAX_SENTENCE_CHARS = 400
# A sentence this similar to one already chosen repeats it.
REDUNDANT_SIMILARITY = 0.5
# Maximal marginal relevance: the weight of relevance against novelty.
RELEVANCE_WEIGHT = 0.7
# The dek is one sentence of at most this many characters, the best of a few candidates.
DEK_CHARS = 280
DEK_CANDIDATES = 3
# The summary paragraph ("Let's dive in").
SUMMARY_SENTENCES = 3
SUMMARY_CHARS = 700
# A sentence with this share of its words in the headline only restates it.
HEADLINE_OVERLAP = 0.75
# How many of an article's first sentences get a boost, and how much the first one gets.
LEAD_SENTENCES = 3
LEAD_BONUS = 0.15

# Lines and sentences that are the publisher's chrome, not the story.
_BOILERPLATE = re.compile(
    r"^(?:read (?:more|the full|on)|continue reading|click here|subscribe|sign up|share (?:this|on)"
    r"|follow us|related:|advertisement|sponsored|image:|photo:|credit:|©|copyright"
    r"|all rights reserved|the post .* appeared first on|this (?:article|story|post) "
    r"(?:was|first|originally)|originally published)",
    re.IGNORECASE,
)
_TRAILING_CHROME = re.compile(
    r"\s*(?:\[(?:…|\.\.\.)\]|(?:read|continue reading|read more)\s*(?:»|→|\.\.\.|…)?)\s*$",
    re.IGNORECASE,
)
_BOUNDARY = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)]))\s+(?=[\"'“‘(]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Col|Lt|St|Jr|Sr|Inc|Corp|Co|Ltd|No|vs|Jan|Feb|"
    r"Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z]|\b(?:[A-Z]\.)+[A-Z])\.$"
)


@dataclasses.dataclass(frozen=True)
class Sentence:
    text: str
    document: int  # index of the article it comes from
    position: int  # index within that article


def split_sentences(text: str) -> list[str]:
    """Sentences of plain text; lines are hard breaks, and "Mr." or "U.S." end nothing."""
    sentences: list[str] = []
    for line in text.splitlines():
        pending = ""
        for piece in _BOUNDARY.split(line.strip()):
            pending = f"{pending} {piece}" if pending else piece
            if not _ABBREVIATION.search(pending):
                sentences.append(pending)
                pending = ""
        if pending:
            sentences.append(pending)
    return [s.strip() for s in sentences if s.strip()]


def clean_body(title: str, text: str) -> str:
    """An article's story text: without the headline the feed glued on and without chrome."""
    title, text = title.strip(), text.strip()
    if title and text.startswith(title):
        # Feeds and ingestion often put the headline in front of the body, with no full stop.
        text = text[len(title) :].lstrip(" .:-–—\n")
    kept = []
    for line in text.splitlines():
        line = _TRAILING_CHROME.sub("", line).strip()
        sentences = [s for s in split_sentences(line) if not _BOILERPLATE.search(s)]
        if sentences:
            kept.append(" ".join(sentences))
    return "\n".join(kept)


def is_complete(sentence: str) -> bool:
    """Ends like a sentence, and not with the ellipsis of a truncated feed summary."""
    return sentence[-1] in ".!?\"'”’)" and not sentence.endswith(("...", "…"))


def candidate_sentences(documents: list[str]) -> list[Sentence]:
    return [
        Sentence(text, document, position)
        for document, text_ in enumerate(documents)
        for position, text in enumerate(split_sentences(text_))
        if MIN_SENTENCE_CHARS <= len(text) <= MAX_SENTENCE_CHARS and is_complete(text)
    ]


def rank_sentences(documents: list[str], limit: int) -> list[Sentence]:
    """Up to `limit` central, mutually non-redundant sentences, best first."""
    sentences = candidate_sentences(documents)
    if not sentences:
        return []
    vectors = _vectorize([s.text for s in sentences])
    relevance = _centrality(vectors, [s.document for s in sentences], len(documents))
    relevance += np.array([_lead_bonus(s.position) for s in sentences])
    similarity = (vectors @ vectors.T).toarray()
    chosen: list[int] = []
    while len(chosen) < min(limit, len(sentences)):
        overlap = similarity[:, chosen].max(axis=1) if chosen else np.zeros(len(sentences))
        score = RELEVANCE_WEIGHT * relevance - (1 - RELEVANCE_WEIGHT) * overlap
        score[overlap >= REDUNDANT_SIMILARITY] = -np.inf
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        if score[best] == -np.inf:
            break
        chosen.append(best)
    return [sentences[i] for i in chosen]


@dataclasses.dataclass(frozen=True)
class CardText:
    dek: str
    summary: str


def write_card_text(headline: str, bodies: list[str]) -> CardText:
    """The one-sentence dek and the summary paragraph, extracted from the articles' bodies.

    The dek is the most central sentence that fits and does not restate the headline; the
    summary is the next best sentences, never the dek again ("" when there are none).
    """
    ranked = rank_sentences(bodies, limit=DEK_CANDIDATES + SUMMARY_SENTENCES)
    fresh = [s for s in ranked if not repeats(s.text, headline)]
    fitting = [s for s in fresh if len(s.text) <= DEK_CHARS]
    candidates = fitting or fresh
    if not candidates:
        # No sentence qualifies (a one-line post, say): fall back to the first line there is.
        first = next((line for body in bodies for line in split_sentences(body)), "")
        return CardText(shorten(first, DEK_CHARS) if not repeats(first, headline) else "", "")
    dek_sentence = candidates[0]
    rest = [s for s in fresh if s is not dek_sentence]
    return CardText(shorten(dek_sentence.text, DEK_CHARS), _paragraph(rest))


def repeats(sentence: str, headline: str) -> bool:
    """Whether `sentence` says little beyond the headline (most of its words are in it)."""
    words, head = _content_words(sentence), _content_words(headline)
    if not words:
        return True
    return len(words & head) / len(words) >= HEADLINE_OVERLAP


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[\w'’-]+", text.lower()) if len(w) > 3}


def _paragraph(sentences: list[Sentence]) -> str:
    picked: list[Sentence] = []
    length = 0
    for sentence in sentences[:SUMMARY_SENTENCES]:
        if length + len(sentence.text) > SUMMARY_CHARS:
            break
        picked.append(sentence)
        length += len(sentence.text) + 1
    picked.sort(key=lambda s: (s.document, s.position))
    return " ".join(s.text for s in picked)


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut, so a long sentence still fits a dek."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _vectorize(texts: list[str]) -> sparse.csr_matrix:
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", strip_accents="unicode")
    try:
        return vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # nothing but stop words
        return sparse.csr_matrix((len(texts), 1))


def _centrality(vectors: sparse.csr_matrix, documents: list[int], n_documents: int) -> np.ndarray:
    """Cosine to the centroid of the per-article mean sentence vectors."""
    owner = sparse.csr_matrix(
        (np.ones(len(documents)), (documents, np.arange(len(documents)))),
        shape=(n_documents, len(documents)),
    )
    counts = np.maximum(np.asarray(owner.sum(axis=1)).ravel(), 1)
    per_document = sparse.diags(1 / counts) @ owner @ vectors
    centroid = np.asarray(per_document.mean(axis=0)).ravel()
    norm = np.linalg.norm(centroid)
    if not norm:
        return np.zeros(len(documents))
    return np.asarray(vectors @ (centroid / norm)).ravel()


def _lead_bonus(position: int) -> float:
    return LEAD_BONUS * max(LEAD_SENTENCES - position, 0) / LEAD_SENTENCES
