"""Fill in what a topic card shows from the topic's articles.

Everything here is derived again on each run, except the fields an editor wrote by hand
(Topic.edited_fields), which enrichment never overwrites.
"""

import math
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np
from django.db import transaction
from django.utils import timezone
from scipy import sparse
from sklearn.preprocessing import normalize

from topics import clustering, entities, summarize
from topics.models import Article, Category, Kind, Relation, Source, Topic

# An article's importance starts at 1 and gains points for these; the sum is rounded, 1-5.
KIND_POINTS = {
    Kind.ANNOUNCEMENT: 1.0,
    Kind.RESEARCH: 1.0,
    Kind.NEWS: 0.5,
    Kind.ANALYSIS: 0.5,
    Kind.OPINION: 0.0,
    Kind.AGGREGATOR: -1.0,
}
LONG_TEXT_CHARS = 1500
LONG_TEXT_POINTS = 0.5
# Coverage adds log2(distinct sources), so 2 sources add 1 and 4 or more add 2.
MAX_COVERAGE_POINTS = 2.0

# A small, editable map for topics whose sources do not agree on a category. Title words
# count three times; the category with most hits wins (ties in Category order).
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    Category.BUSINESS: (
        "market", "markets", "stock", "stocks", "shares", "earnings", "revenue", "profit",
        "investor", "investors", "bank", "banks", "economy", "inflation", "interest rate",
        "merger", "acquisition", "ipo", "ceo", "company", "startup", "funding", "tariff",
        "tariffs", "trade", "fed", "federal reserve", "valuation", "sales", "exports",
        "imports", "gdp", "manufacturing", "factory", "retail", "jobs", "unemployment",
        "consumer", "consumers", "oil", "prices", "budget", "debt", "deficit", "bond", "bonds",
    ),
    Category.TECHNOLOGY: (
        "ai", "artificial intelligence", "ai model", "ai models", "software", "chip", "chips",
        "semiconductor", "app", "apps", "cloud", "data center", "startup", "openai", "google",
        "apple", "microsoft", "nvidia", "algorithm", "cyber", "hack", "hackers", "robot",
        "smartphone", "internet", "llm", "benchmark", "gpu",
    ),
    Category.POLICY: (
        "senate", "congress", "parliament", "law", "bill", "regulation", "regulator",
        "court", "supreme court", "election", "vote", "minister", "government", "policy",
        "president", "lawmakers", "legislation", "ban", "campaign", "governor", "republicans",
        "democrats", "white house",
    ),
    Category.SCIENCE: (
        "study", "scientists", "researchers", "research", "physics", "space", "nasa",
        "telescope", "rocket", "launch", "satellite", "species", "genome", "experiment",
        "journal", "astronomers", "quantum", "orbit", "mission",
    ),
    Category.WORLD: (
        "war", "military", "troops", "ceasefire", "refugees", "embassy", "united nations",
        "border", "protest", "protests", "attack", "killed", "invasion", "sanctions",
        "diplomat", "diplomats", "summit",
    ),
    Category.HEALTH: (
        "health", "hospital", "hospitals", "vaccine", "virus", "disease", "patients", "cancer",
        "drug", "drugs", "fda", "outbreak", "medical", "doctors", "pandemic", "covid",
    ),
    Category.CLIMATE: (
        "climate", "emissions", "carbon", "warming", "renewable", "solar", "wind power",
        "drought", "flood", "floods", "wildfire", "wildfires", "heatwave", "glacier",
        "fossil fuel", "net zero", "water",
    ),
    Category.CULTURE: (
        "film", "movie", "music", "album", "book", "novel", "museum", "art", "festival",
        "television", "actor", "actress", "celebrity", "theatre", "theater",
    ),
    Category.SPORTS: (
        "league", "championship", "tournament", "coach", "striker", "quarterback", "football",
        "soccer", "basketball", "baseball", "cricket", "rugby", "tennis", "golf", "olympic",
        "olympics", "world cup", "playoffs", "nba", "nfl", "premier league", "grand slam",
    ),
}  # fmt: skip
_CATEGORY_PATTERNS = {
    category: re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)
    for category, words in CATEGORY_KEYWORDS.items()
}

ENRICHED_FIELDS = [
    "headline", "dek", "summary", "category", "tags", "primary_entity", "importance",
    "importance_max", "lead_article", "article_count", "source_count", "earliest_at",
    "latest_at", "needs_enrichment", "updated_at",
]  # fmt: skip
DEK_CHARS = 280
# The dek is the best of this many top sentences that fits in DEK_CHARS.
DEK_CANDIDATES = 3
MAX_TAGS = 6
BATCH = 200


def enrich_topics(topic_ids: Iterable[int]) -> int:
    """Recompute the given topics and their articles' importance; returns how many topics."""
    ids = sorted(set(topic_ids))
    done = 0
    for start in range(0, len(ids), BATCH):
        done += _enrich_batch(ids[start : start + BATCH])
    return done


def article_importance(weight: float, kind: str, source_count: int, text_chars: int) -> int:
    """1-5: what kind of piece it is, how much its source counts, and how widely it is covered."""
    points = 1.0 + KIND_POINTS.get(kind, 0.0)
    points += min(max(weight - 1.0, -1.0), 1.0)
    points += min(math.log2(max(source_count, 1)), MAX_COVERAGE_POINTS)
    points += LONG_TEXT_POINTS if text_chars >= LONG_TEXT_CHARS else 0.0
    return clamp(math.floor(points + 0.5))


def clamp(value: int, low: int = 1, high: int = 5) -> int:
    return max(low, min(high, value))


def _enrich_batch(ids: list[int]) -> int:
    with transaction.atomic():
        topics = list(Topic.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        articles = list(
            Article.objects.filter(topic_id__in=ids)
            .select_related("source")
            .order_by("published_at", "pk")
        )
        members: dict[int, list[Article]] = {t.pk: [] for t in topics}
        for article in articles:
            members[article.topic_id].append(article)
        centrality = _centrality(articles)
        changed_articles: list[Article] = []
        for topic in topics:
            changed_articles += _enrich(topic, members[topic.pk], centrality)
        Article.objects.bulk_update(changed_articles, ["importance"], batch_size=500)
        Topic.objects.bulk_update(topics, ENRICHED_FIELDS, batch_size=100)
    return len(topics)


def _enrich(topic: Topic, members: list[Article], centrality: dict[int, float]) -> list[Article]:
    """Fill `topic` in place; returns the members whose importance changed."""
    topic.needs_enrichment = False
    topic.updated_at = timezone.now()
    sources = {a.source_id: a.source for a in members}
    topic.article_count, topic.source_count = len(members), len(sources)
    if not members:
        topic.lead_article, topic.earliest_at, topic.latest_at = None, None, None
        return []
    changed = _score_articles(members, len(sources))
    topic.importance_max = max(a.importance for a in members)
    topic.importance = clamp(topic.importance_max + topic.importance_boost)
    topic.earliest_at = members[0].published_at
    topic.latest_at = max(a.published_at for a in members)
    topic.lead_article = max(
        members, key=lambda a: (round(a.source.weight * centrality[a.pk], 6), _earlier(a))
    )
    _describe(topic, members, list(sources.values()))
    return changed


def _describe(topic: Topic, members: list[Article], sources: list[Source]) -> None:
    """The words on the card: headline, dek, summary, category, primary entity and tags."""
    lead = topic.lead_article
    assert lead is not None  # set by the caller for any topic with members
    texts = [a.text for a in members]
    _set(topic, "headline", lead.title)
    _set(topic, "dek", _dek(texts, lead))
    _set(topic, "summary", summarize.summarize(texts, skip=frozenset({topic.dek})) or topic.dek)
    _set(topic, "category", _category(members, sources))
    found = entities.extract_entities(
        [a.title for a in members], texts, exclude=_source_names(sources)
    )
    primary = _speaker(members) or (found[0].name if found else "")
    _set(topic, "primary_entity", primary[:200])
    _set(topic, "tags", [e.name for e in found if e.name != primary][:MAX_TAGS])


def _set(topic: Topic, field: str, value: object) -> None:
    if not topic.is_edited(field):
        setattr(topic, field, value)


def _earlier(article: Article) -> tuple[float, int]:
    # Sorting by max(): the earliest article, then the lowest pk, wins a tie.
    return (-article.published_at.timestamp(), -article.pk)


def _score_articles(members: list[Article], source_count: int) -> list[Article]:
    changed = []
    for article in members:
        importance = article_importance(
            article.source.weight, article.kind, source_count, len(article.text)
        )
        if importance != article.importance:
            article.importance = importance
            changed.append(article)
    return changed


def _centrality(articles: list[Article]) -> dict[int, float]:
    """Each article's cosine similarity to the mean of its topic's articles."""
    if not articles:
        return {}
    vectors = clustering.vectorize([clustering.document_for(a.title, a.text) for a in articles])
    topic_ids = sorted({a.topic_id for a in articles})
    row_of = {t: n for n, t in enumerate(topic_ids)}
    owners = np.array([row_of[a.topic_id] for a in articles])
    indicator = sparse.csr_matrix(
        (np.ones(len(articles)), (owners, np.arange(len(articles)))),
        shape=(len(topic_ids), len(articles)),
    )
    centroids = normalize(indicator @ vectors)
    scores = np.asarray(vectors.multiply(centroids[owners]).sum(axis=1)).ravel()
    return {a.pk: float(s) for a, s in zip(articles, scores, strict=True)}


def _dek(texts: list[str], lead: Article) -> str:
    """A central sentence that fits a dek and does not just repeat the headline."""
    title = lead.title.strip().lower()
    ranked = [
        s.text
        for s in summarize.rank_sentences(texts, limit=DEK_CANDIDATES)
        if not s.text.lower().startswith(title)
    ]
    ranked = ranked or summarize.split_sentences(lead.text)[:1]
    if not ranked:
        return ""
    fitting = [text for text in ranked if len(text) <= DEK_CHARS]
    return fitting[0] if fitting else summarize.shorten(ranked[0], DEK_CHARS)


def _category(members: list[Article], sources: Iterable[Source]) -> str:
    """The sources' own category when most agree, else what the words suggest."""
    votes = Counter(s.category for s in sources if s.category)
    if votes:
        category, count = votes.most_common(1)[0]
        if count * 2 > sum(votes.values()):
            return category
    guess = classify([a.title for a in members], [a.text for a in members])
    return guess or (votes.most_common(1)[0][0] if votes else "")


def classify(titles: list[str], texts: list[str]) -> str:
    """The category whose keywords the titles (x3) and texts mention most; "" for none."""
    title, text = " ".join(titles), " ".join(texts)
    hits = {
        category: 3 * len(pattern.findall(title)) + len(pattern.findall(text))
        for category, pattern in _CATEGORY_PATTERNS.items()
    }
    best = max(hits, key=lambda c: (hits[c], -list(Category).index(c)))
    return str(best) if hits[best] else ""


def _source_names(sources: Iterable[Source]) -> set[str]:
    names = set()
    for source in sources:
        names.add(source.name)
        names.add(re.sub(r"\s*\(.*?\)\s*", " ", source.name).strip())
    return names


def _speaker(members: list[Article]) -> str:
    """A first-party opinion or analysis is about the person speaking: its author."""
    lead = members[0]
    if len({a.source_id for a in members}) != 1 or lead.source.relation != Relation.FIRST_PARTY:
        return ""
    if lead.kind not in (Kind.OPINION, Kind.ANALYSIS):
        return ""
    if lead.author:
        return lead.author
    match = re.search(r"\(([^)]+)\)", lead.source.name)  # "Interconnects (Nathan Lambert)"
    return match.group(1) if match else ""
