"""Feed discovery: from a site's home page URL to its feed, and a Source for it.

The home page is fetched with the same safe downloader as feeds. If it is itself a
feed, done; otherwise its <link rel="alternate"> feeds are tried in page order
(comment feeds last), then a few common feed paths. The winning download becomes the
new source's first fetch, so the publisher is not asked twice.
"""

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from django.db import transaction
from django.utils import timezone

from topics import fetching
from topics.feed_http import DEFAULT_LIMITS, Download, FetchError, Limits, download
from topics.feed_parsing import NotAFeed, ParsedFeed, parse_document
from topics.models import Source
from topics.urls_canon import web_url

FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
}
COMMON_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml")
# Each candidate costs one request to the publisher; stop well before it feels like a scan.
MAX_CANDIDATES = 8


class DiscoveryError(Exception):
    """No feed could be found or added; `str()` says why, for the editor."""


@dataclass(frozen=True)
class DiscoveredFeed:
    feed_url: str
    title: str
    homepage_url: str
    download: Download


def discover_feed(site_url: str, limits: Limits = DEFAULT_LIMITS) -> DiscoveredFeed:
    """The feed of the site at `site_url` (or `site_url` itself when it is a feed)."""
    url = _with_scheme(site_url)
    page = _get(url, limits)
    if page is None:
        raise DiscoveryError(f"could not read {url}")
    found = _as_feed(page)
    if found:
        return found
    for candidate in candidate_urls(page.body, page.url)[:MAX_CANDIDATES]:
        answer = _get(candidate, limits)
        found = _as_feed(answer) if answer else None
        if found:
            return found
    raise DiscoveryError(f"no feed found at {url}")


def add_source_from_site(
    site_url: str, limits: Limits = DEFAULT_LIMITS, **fields: object
) -> Source:
    """Discover the site's feed, create an active Source for it and store its first
    fetch. Raises DiscoveryError when there is no feed or it is already a source."""
    found = discover_feed(site_url, limits)
    existing = find_source_by_feed_url(found.feed_url)
    if existing is not None:
        raise DiscoveryError(f"{found.feed_url} is already the source “{existing.name}”")
    with transaction.atomic():
        source = Source.objects.create(
            name=(found.title or urlsplit(found.feed_url).hostname or found.feed_url)[:200],
            feed_url=found.feed_url,
            homepage_url=found.homepage_url,
            **fields,
        )
    fetching.store_download(source.pk, found.download)
    source.refresh_from_db()
    return source


def find_source_by_feed_url(url: str) -> Source | None:
    """The source fetching `url`, now or before a permanent redirect."""
    direct = Source.objects.filter(feed_url=url).first()
    if direct is not None:
        return direct
    # Aliases are rare and short lists; JSON containment is not portable to SQLite.
    for source in Source.objects.exclude(feed_url_aliases=[]):
        if url in source.feed_url_aliases:
            return source
    return None


def candidate_urls(html: bytes, base_url: str) -> list[str]:
    """Feed URLs a page advertises, then the common paths on its site, without repeats."""
    finder = _FeedLinkFinder()
    finder.feed(html[:1_000_000].decode("utf-8", "replace"))
    finder.close()
    advertised = sorted(finder.links, key=lambda link: "comment" in link[1].lower())
    urls = [web_url(href, base_url) for href, _ in advertised]
    urls += [urljoin(base_url, path) for path in COMMON_PATHS]
    return list(dict.fromkeys(url for url in urls if url))


class _FeedLinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, title)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {name: value or "" for name, value in attrs}
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_TYPES and values.get("href"):
            self.links.append((values["href"], values.get("title", "")))


def _get(url: str, limits: Limits) -> Download | None:
    try:
        answer = download(url, limits=limits)
    except FetchError:
        return None
    return answer if 200 <= answer.status < 300 else None


def _as_feed(answer: Download) -> DiscoveredFeed | None:
    try:
        parsed: ParsedFeed = parse_document(
            answer.body, answer.headers.get("content-type", ""), answer.url, timezone.now()
        )
    except NotAFeed:
        return None
    homepage = parsed.link if parsed.link != answer.url else ""
    return DiscoveredFeed(answer.url, parsed.title, homepage, answer)


def _with_scheme(url: str) -> str:
    url = url.strip()
    return url if "://" in url else f"https://{url}"
