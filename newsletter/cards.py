"""Topic cards as the digest email and its web archive show them.

A card carries what the reference card shows (importance, category, entity, coverage,
headline, dek, lead coverage, the other sources, tags) plus whether the story is an update
of one sent before. Feed text is cut to a bounded length here, so one verbose publisher
cannot push an email over Gmail's clipping size.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.text import Truncator

from newsletter import tokens
from newsletter.models import Digest, DigestTopic
from topics.models import Article, Topic

HEADLINE_CHARS = 160
DEK_CHARS = 280
TITLE_CHARS = 110
MAX_TAGS = 5
MAX_OTHER_SOURCES = 4

# Badge colours by importance, the same as the site's light theme (static/daybrief.css).
IMPORTANCE_COLOURS = {
    1: ("#e8e8e8", "#2b2b2b"),
    2: ("#dcebff", "#123a75"),
    3: ("#fff0c2", "#5c4100"),
    4: ("#ffe0c7", "#7a2e00"),
    5: ("#ffd6d6", "#8a0d0d"),
}


@dataclass(frozen=True)
class SourceLink:
    name: str
    url: str
    title: str = ""


@dataclass
class Card:
    topic: Topic
    url: str
    headline: str
    dek: str
    lead: SourceLink | None
    others: list[SourceLink] = field(default_factory=list)
    more_sources: int = 0
    tags: list[str] = field(default_factory=list)
    is_update: bool = False
    new_article_count: int = 0
    new_source_count: int = 0

    # Segments choose cards by these two (newsletter/segments.py).
    @property
    def category(self) -> str:
        return self.topic.category

    @property
    def importance(self) -> int:
        return self.topic.importance

    @property
    def badge_bg(self) -> str:
        return IMPORTANCE_COLOURS.get(self.importance, IMPORTANCE_COLOURS[1])[0]

    @property
    def badge_fg(self) -> str:
        return IMPORTANCE_COLOURS.get(self.importance, IMPORTANCE_COLOURS[1])[1]

    @property
    def update_label(self) -> str:
        """'Updated: 2 new articles, 1 new source' or plain 'Updated'."""
        parts = []
        if self.new_article_count:
            parts.append(_plural(self.new_article_count, "new article"))
        if self.new_source_count:
            parts.append(_plural(self.new_source_count, "new source"))
        return "Updated: " + ", ".join(parts) if parts else "Updated"


def digest_cards(digest: Digest) -> list[Card]:
    """The digest's cards in ranked order: three queries whatever the number of topics."""
    items = list(digest.items.select_related("topic__lead_article__source").order_by("position"))
    articles = articles_by_topic([item.topic_id for item in items])
    return [card_for(item, articles.get(item.topic_id, [])) for item in items]


def articles_by_topic(topic_ids: Iterable[int]) -> dict[int, list[Article]]:
    rows = (
        Article.objects.filter(topic_id__in=list(topic_ids))
        .select_related("source")
        .only("pk", "url", "title", "published_at", "topic_id", "source__name")
        .order_by("published_at", "pk")
    )
    grouped: dict[int, list[Article]] = defaultdict(list)
    for article in rows:
        grouped[article.topic_id].append(article)  # type: ignore[index]
    return grouped


def card_for(item: DigestTopic, articles: list[Article]) -> Card:
    topic = item.topic
    lead = topic.lead_article
    others = other_sources(articles, lead)
    return Card(
        topic=topic,
        url=tokens.absolute_url(topic.get_absolute_url()),
        headline=_cut(str(topic), HEADLINE_CHARS),
        dek=_cut(topic.dek, DEK_CHARS),
        lead=lead_link(lead, str(topic)) if lead and lead.url else None,
        others=others[:MAX_OTHER_SOURCES],
        more_sources=max(len(others) - MAX_OTHER_SOURCES, 0),
        tags=[_cut(str(tag), 40) for tag in (topic.tags or [])[:MAX_TAGS]],
        is_update=item.is_update,
        new_article_count=item.new_article_count,
        new_source_count=item.new_source_count,
    )


def other_sources(articles: list[Article], lead: Article | None) -> list[SourceLink]:
    """Each source besides the lead's, linked to its first article on the story."""
    seen = {lead.source_id} if lead else set()
    links = []
    for article in articles:
        if article.source_id in seen or not article.url:
            continue
        seen.add(article.source_id)
        links.append(source_link(article))
    return links


def lead_link(lead: Article, headline: str) -> SourceLink:
    """The lead article's link; its title is left out when it only repeats the headline."""
    link = source_link(lead)
    if " ".join(lead.title.split()).casefold() == " ".join(headline.split()).casefold():
        return SourceLink(link.name, link.url)
    return link


def source_link(article: Article) -> SourceLink:
    return SourceLink(article.source.name, article.url, _cut(article.title, TITLE_CHARS))


def preheader(cards: list[Card]) -> str:
    """The inbox preview line: the top headlines, the first ones within ~90 characters."""
    if not cards:
        return "No new stories today."
    return Truncator(" · ".join(card.headline for card in cards[:3])).chars(110)


def _cut(text: str, limit: int) -> str:
    return Truncator(" ".join(text.split())).chars(limit)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
