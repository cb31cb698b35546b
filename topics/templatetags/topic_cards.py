"""Template helpers shared by the topic index, the topic page and the feed."""

import datetime as dt
from collections.abc import Iterable

from django import template
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.text import Truncator

from topics.models import Article, Source, Topic
from topics.summarize import clean_body

register = template.Library()

BLURB_CHARS = 320


@register.filter
def age(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long ago `value` was, as the card shows it: "just now", "5m ago", "2h ago", "3d ago"."""
    if value is None:
        return ""
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 60:
        # Clock skew between a feed and us can put an article slightly in the future.
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


@register.filter
def iso_utc(value: dt.datetime | None) -> str:
    """ISO 8601 in UTC with milliseconds, like "2026-04-20T18:25:02.000Z"."""
    if value is None:
        return ""
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@register.filter
def blurb(article: Article) -> str:
    """The article's own summary as plain text, or "" when it would only repeat the title.

    Plain text on purpose: feed HTML is sanitized at ingestion, but a card of
    mixed formatting from a dozen publishers reads worse than text.
    """
    text = article.text.strip() or strip_tags(article.summary_html).strip()
    # Ingestion puts the headline in front of the text; the card shows the headline already.
    text = clean_body(article.title, text)
    return Truncator(" ".join(text.split())).chars(BLURB_CHARS)


@register.filter
def sources_of(articles: Iterable[Article]) -> list[Source]:
    """Distinct sources of `articles`, in the order they first appear."""
    seen: dict[int, Source] = {}
    for article in articles:
        seen.setdefault(article.source_id, article.source)
    return list(seen.values())


@register.filter
def relation_kind(article: Article) -> str:
    """ "first-party opinion" for a subject speaking for itself, else just the kind ("news")."""
    if article.source.is_first_party:
        return f"first-party {article.kind}"
    return article.kind


@register.inclusion_tag("topics/_meta.html")
def topic_meta(topic: Topic, scale: bool = True) -> dict[str, object]:
    """The row of badges above a headline: importance, category, entity, coverage, count."""
    return {"topic": topic, "scale": scale}
