"""Fill in what a topic card shows from the topic's articles.

Everything here is derived again on each run, except the fields an editor wrote by hand
(Topic.edited_fields), which enrichment never overwrites. Clustering hands over only the
topics whose membership changed, so an unchanged topic is not rewritten.
"""

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Iterable

import numpy as np
from django.db import transaction
from django.utils import timezone
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from topics import categories, entities, summarizers, tags
from topics.models import Article, Kind, Relation, Source, Topic
from topics.pagecache import pages_changed
from topics.summarize import clean_body

# An article's importance starts at 1 and gains points for these; the sum is rounded, 1-5.
KIND_POINTS: dict[str, float] = {
    Kind.ANNOUNCEMENT: 0.5,
    Kind.RESEARCH: 0.5,
    Kind.NEWS: 0.5,
    Kind.ANALYSIS: 0.25,
    Kind.OPINION: 0.0,
    Kind.AGGREGATOR: -0.5,
}
# Source weight 1.0 is ordinary: 1.5 adds half a point, 0.8 takes 0.2 off.
WEIGHT_POINTS = (-0.5, 1.0)
# Each other source covering the story adds this much, up to the cap: five sources add 2.
COVERAGE_POINTS = 0.5
MAX_COVERAGE_POINTS = 2.0
# A story that at least this many other sources picked up within SPEED_HOURS is breaking.
SPEED_HOURS = 6
SPEED_SOURCES = 2
SPEED_POINTS = 0.5
# The article that broke a multi-source story, and a long read, each count a little more.
FIRST_POINTS = 0.25
LONG_TEXT_CHARS = 1500
LONG_TEXT_POINTS = 0.5
# Lead coverage: centrality times source weight, plus this much for the earliest article.
LEAD_EARLINESS = 0.05

ENRICHED_FIELDS = [
    "headline", "dek", "summary", "category", "tags", "primary_entity", "importance",
    "importance_max", "lead_article", "article_count", "source_count", "earliest_at",
    "latest_at", "needs_enrichment", "updated_at",
]  # fmt: skip
BATCH = 200


@dataclasses.dataclass(frozen=True)
class Signals:
    """What an article's importance is computed from."""

    weight: float  # its source's weight, 1.0 ordinary
    kind: str
    sources: int  # distinct sources covering the topic
    fast_sources: int  # other sources that covered it within SPEED_HOURS of the first article
    is_first: bool  # it broke the story (earliest of several sources)
    body_chars: int


@dataclasses.dataclass(frozen=True)
class Context:
    """What every topic of a run shares: the editable category list and tag vocabulary."""

    rules: list[categories.CategoryRule]
    vocabulary: tags.Vocabulary
    summarizer: summarizers.Summarizer


def enrich_topics(topic_ids: Iterable[int]) -> int:
    """Recompute the given topics and their articles' importance; returns how many topics."""
    ids = sorted(set(topic_ids))
    if not ids:
        return 0
    context = Context(
        categories.load_rules(), tags.load_vocabulary(), summarizers.configured_summarizer()
    )
    done = 0
    for start in range(0, len(ids), BATCH):
        done += _enrich_batch(ids[start : start + BATCH], context)
    pages_changed()
    return done


def article_importance(signals: Signals) -> int:
    """1-5: the kind of piece, how much its source counts, how widely and fast it is covered."""
    low, high = WEIGHT_POINTS
    points = 1.0 + KIND_POINTS.get(signals.kind, 0.0)
    points += min(max(signals.weight - 1.0, low), high)
    points += min(COVERAGE_POINTS * (signals.sources - 1), MAX_COVERAGE_POINTS)
    points += SPEED_POINTS if signals.fast_sources >= SPEED_SOURCES else 0.0
    points += FIRST_POINTS if signals.is_first and signals.sources > 1 else 0.0
    points += LONG_TEXT_POINTS if signals.body_chars >= LONG_TEXT_CHARS else 0.0
    return clamp(math.floor(points + 0.5))


def clamp(value: int, low: int = 1, high: int = 5) -> int:
    return max(low, min(high, value))


def _enrich_batch(ids: list[int], context: Context) -> int:
    with transaction.atomic():
        topics = list(Topic.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        articles = list(
            Article.objects.filter(topic_id__in=ids)
            .select_related("source")
            .order_by("published_at", "pk")
        )
        members: dict[int, list[Article]] = {t.pk: [] for t in topics}
        for article in articles:
            members[_topic_of(article)].append(article)
        bodies = {a.pk: clean_body(a.title, a.text) for a in articles}
        centrality = _centrality(articles, bodies)
        changed_articles: list[Article] = []
        for topic in topics:
            found = members[topic.pk]
            changed_articles += _enrich(topic, found, bodies, centrality, context)
        Article.objects.bulk_update(changed_articles, ["importance"], batch_size=500)
        Topic.objects.bulk_update(topics, ENRICHED_FIELDS, batch_size=100)
    return len(topics)


def _enrich(
    topic: Topic,
    members: list[Article],
    bodies: dict[int, str],
    centrality: dict[int, float],
    context: Context,
) -> list[Article]:
    """Fill `topic` in place; returns the members whose importance changed."""
    topic.needs_enrichment = False
    topic.updated_at = timezone.now()
    sources = {a.source_id: a.source for a in members}
    topic.article_count, topic.source_count = len(members), len(sources)
    if not members:
        topic.lead_article, topic.earliest_at, topic.latest_at = None, None, None
        return []
    changed = score_articles(members, bodies)
    topic.importance_max = max(a.importance for a in members)
    topic.importance = clamp(topic.importance_max + topic.importance_boost)
    topic.earliest_at = members[0].published_at
    topic.latest_at = max(a.published_at for a in members)
    if not (topic.is_edited("lead_article") and topic.lead_article in members):
        topic.lead_article = choose_lead(members, centrality)
    _describe(topic, members, bodies, list(sources.values()), context)
    return changed


def choose_lead(members: list[Article], centrality: dict[int, float]) -> Article:
    """The article that best stands for the topic: central, from a weighty source, early."""
    earliest = members[0]

    def merit(article: Article) -> tuple[float, float, int]:
        score = article.source.weight * centrality.get(article.pk, 0.0)
        score += LEAD_EARLINESS if article is earliest else 0.0
        return (round(score, 6), -article.published_at.timestamp(), -article.pk)

    return max(members, key=merit)


def score_articles(members: list[Article], bodies: dict[int, str]) -> list[Article]:
    """Set each member's importance (members oldest first); returns those that changed."""
    first = members[0]
    sources = {a.source_id for a in members}
    # Other sources that picked the story up soon after it broke.
    fast = {
        a.source_id
        for a in members
        if a.published_at - first.published_at <= dt.timedelta(hours=SPEED_HOURS)
    } - {first.source_id}
    changed = []
    for article in members:
        signals = Signals(
            weight=article.source.weight,
            kind=article.kind,
            sources=len(sources),
            fast_sources=len(fast),
            is_first=article is first,
            body_chars=len(bodies.get(article.pk, "")),
        )
        importance = article_importance(signals)
        if importance != article.importance:
            article.importance = importance
            changed.append(article)
    return changed


def _describe(
    topic: Topic,
    members: list[Article],
    bodies: dict[int, str],
    sources: list[Source],
    context: Context,
) -> None:
    """The words on the card: headline, dek, summary, category, primary entity and tags."""
    lead = topic.lead_article
    assert lead is not None  # set by the caller for any topic with members
    # The lead's body first: summaries break ties towards the earliest document.
    ordered = [lead, *(a for a in members if a is not lead)]
    texts = [bodies[a.pk] for a in ordered]
    titles = [a.title for a in ordered]
    headline = topic.headline if topic.is_edited("headline") else lead.title
    _set(topic, "headline", headline)
    if not (topic.is_edited("dek") and topic.is_edited("summary")):
        card = context.summarizer.write(
            headline, [(a.source.name, a.title) for a in ordered], texts
        )
        _set(topic, "dek", card.dek)
        _set(topic, "summary", card.summary)
    _set(
        topic,
        "category",
        categories.categorize(context.rules, titles, texts, [s.category for s in sources]),
    )
    found = entities.extract_entities(titles, texts, exclude=_source_names(sources))
    primary = _speaker(members) or choose_primary(found, lead.title)
    _set(topic, "primary_entity", context.vocabulary.spell(primary)[:200])
    _set(topic, "tags", tags.tag_topic(context.vocabulary, [*titles, *texts], found, primary))


def choose_primary(found: list[entities.Entity], lead_title: str) -> str:
    """The name the topic is most about: in the most headlines, then the most salient."""
    if not found:
        return ""
    in_lead = {e.name for e in found if re.search(rf"(?<!\w){re.escape(e.name)}(?!\w)", lead_title)}
    best = max(found, key=lambda e: (e.titles + (e.name in in_lead), e.salience, -len(e.name)))
    return best.name


def _set(topic: Topic, field: str, value: object) -> None:
    if not topic.is_edited(field):
        setattr(topic, field, value)


def _topic_of(article: Article) -> int:
    assert article.topic_id is not None  # enrichment reads articles by their topic
    return article.topic_id


def _centrality(articles: list[Article], bodies: dict[int, str]) -> dict[int, float]:
    """Each article's cosine similarity to the mean of its topic's articles (TF-IDF)."""
    if not articles:
        return {}
    documents = [f"{a.title}\n{bodies[a.pk]}" for a in articles]
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", strip_accents="unicode")
    try:
        vectors = vectorizer.fit_transform(documents).tocsr()
    except ValueError:  # nothing but stop words
        return {a.pk: 1.0 for a in articles}
    topic_ids = sorted({_topic_of(a) for a in articles})
    row_of = {t: n for n, t in enumerate(topic_ids)}
    owners = np.array([row_of[_topic_of(a)] for a in articles])
    indicator = sparse.csr_matrix(
        (np.ones(len(articles)), (owners, np.arange(len(articles)))),
        shape=(len(topic_ids), len(articles)),
    )
    centroids = normalize(indicator @ vectors)
    scores = np.asarray(vectors.multiply(centroids[owners]).sum(axis=1)).ravel()
    return {a.pk: float(s) for a, s in zip(articles, scores, strict=True)}


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
