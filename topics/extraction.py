"""Full-article text for sources whose feeds carry only a title or a stub (opt-in).

When a source's `fetch_full_text` switch is on, each new entry whose text is a stub has
its page fetched with the same safe downloader as feeds (private addresses refused,
bounded in time and size) and its main text extracted with trafilatura, a maintained
extractor (reference §5.7). The result replaces the entry's content only when it says
more than the feed did; any failure leaves the feed's own text in place. The article
records a hash of the feed text the page's text replaced (`Article.extracted_over`).
When the feed later changes such an entry, its page is extracted again; if that gives
nothing, the full text stored before stays only while the feed's own text is unchanged
(a new title, say). A feed whose text changed wins: its update may be a correction.
"""

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from topics.feed_http import FetchError, Limits, download
from topics.models import Article
from topics.text import collapse_whitespace, sanitize_html, sanitized_html_to_text

logger = logging.getLogger(__name__)

# Plain text beyond the title shorter than this is a stub ("Read more…", a teaser line).
STUB_CHARS = 300
# Pages are fetched one after another in the round's thread: bound the cost per fetch.
MAX_PAGES_PER_FETCH = 5
PAGE_LIMITS = Limits(total=10.0, read=5.0, max_bytes=3 * 1024 * 1024, max_redirects=5)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class ExtractedText:
    html: str  # sanitized
    text: str


def is_stub(article: Article) -> bool:
    body = article.text.removeprefix(article.title).strip()
    return bool(article.url) and len(body) < STUB_CHARS


def add_full_text(
    new: Sequence[Article], changed: Sequence[Article] = (), limits: Limits = PAGE_LIMITS
) -> int:
    """Fill in the content of stub articles (not yet saved) from their pages, new ones
    first; returns how many were filled. At most MAX_PAGES_PER_FETCH pages are fetched.

    `changed` are updates of stored articles (with their pk): one the page does not
    fill keeps its stored full text when the feed's text is the one that was replaced.
    """
    filled: list[Article] = []
    for article in [a for a in [*new, *changed] if is_stub(a)][:MAX_PAGES_PER_FETCH]:
        extracted = extract_article(article.url, limits)
        if extracted is None or len(extracted.text) <= len(article.text):
            continue
        _use_page_text(article, extracted.html, extracted.text)
        filled.append(article)
    unfilled = [a for a in changed if not any(a is f for f in filled)]
    if unfilled:
        _keep_stored_full_text(unfilled)
    return len(filled)


def _keep_stored_full_text(changed: list[Article]) -> None:
    """Put back the page text stored for updated articles whose feed text is the one
    it replaced (the update changed only the title or link, say)."""
    extracted = Article.objects.filter(pk__in=[a.pk for a in changed]).exclude(extracted_over="")
    stored = {
        pk: (html, over)
        for pk, html, over in extracted.values_list("pk", "content_html", "extracted_over")
    }
    for article in changed:
        html, over = stored.get(article.pk, ("", ""))
        if over == _feed_text_hash(article):
            _use_page_text(article, html, sanitized_html_to_text(html))


def _use_page_text(article: Article, html: str, text: str) -> None:
    """Replace the feed's content of `article`, which must still hold the feed's text."""
    article.extracted_over = _feed_text_hash(article)
    article.content_html = html
    article.text = collapse_whitespace(f"{article.title} {text}")


def _feed_text_hash(article: Article) -> str:
    feed_text = f"{article.summary_html}\0{article.content_html}"
    return hashlib.sha256(feed_text.encode("utf-8", "surrogatepass")).hexdigest()


def extract_article(url: str, limits: Limits = PAGE_LIMITS) -> ExtractedText | None:
    """The main text of the web page at `url`, or None when it cannot be had."""
    try:
        page = download(url, limits=limits)
    except FetchError as exc:
        logger.info("Full text of %s not fetched: %s", url, exc)
        return None
    content_type = page.headers.get("content-type", "").lower()
    if not 200 <= page.status < 300 or not content_type.startswith(_HTML_TYPES):
        return None
    # Imported here: trafilatura and lxml cost ~0.5 s to import, and most sources never
    # use them.
    import trafilatura

    try:
        extracted = trafilatura.extract(
            page.body,
            url=page.url,
            output_format="html",
            include_comments=False,
            include_images=False,
            include_links=True,
            favor_precision=True,
        )
    except Exception:  # a parser crash on one hostile page must not end the fetch
        logger.exception("Extracting %s failed", url)
        return None
    if not extracted:
        return None
    html = sanitize_html(extracted, page.url)
    return ExtractedText(html=html, text=sanitized_html_to_text(html))
