"""Render a demo source as a real RSS 2.0 or Atom feed.

The output depends only on the content, the anchor and the base URL, so two requests give
byte-identical feeds: same GUIDs, same dates, same ETag.
"""

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import feedgenerator
from django.utils.html import escape

from topics.demo.content import DemoArticle, DemoSource, articles_of

# Fixed, host-independent GUIDs: moving the site to another port must not make every
# article look new to the fetcher.
GUID_PREFIX = "tag:daybrief.demo,2025:"

_GENERATORS: dict[str, type[feedgenerator.Rss201rev2Feed | feedgenerator.Atom1Feed]] = {
    "rss": feedgenerator.Rss201rev2Feed,
    "atom": feedgenerator.Atom1Feed,
}


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    content_type: str
    etag: str
    last_modified: dt.datetime


def article_guid(article: DemoArticle) -> str:
    return f"{GUID_PREFIX}{article.source}/{article.slug}"


def render_feed(
    source: DemoSource,
    anchor: dt.datetime,
    homepage_url: str,
    article_url: Callable[[DemoArticle], str],
    feed_url: str,
) -> RenderedFeed:
    """`article_url` turns an article into the absolute link readers follow."""
    generator = _GENERATORS[source.feed_format]
    feed = generator(
        title=source.name,
        link=homepage_url,
        description=source.description,
        language="en",
        feed_url=feed_url,
    )
    articles = articles_of(source.slug)
    for article in articles:
        published = article.published_at(anchor)
        feed.add_item(
            title=article.title,
            link=article_url(article),
            description=f"<p>{escape(article.summary)}</p>",
            unique_id=article_guid(article),
            unique_id_is_permalink=False,
            pubdate=published,
            updateddate=published,
            author_name=article.author or None,
        )
    body = feed.writeString("utf-8").encode()
    return RenderedFeed(
        body=body,
        content_type=generator.content_type,
        etag=hashlib.sha256(body).hexdigest()[:32],
        last_modified=feed.latest_post_date(),
    )
