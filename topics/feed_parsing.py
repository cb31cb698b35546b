"""Feed bytes to plain entry records: parsing, identity, dates and fallbacks.

No database here, so the parser can be tested over real captures on its own. The
expensive part (sanitizing HTML) is deferred to `EntryRecord.article_fields()`, which
ingestion calls only for new or changed entries.
"""

import datetime as dt
import hashlib
import html
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from topics.charsets import with_detected_charset
from topics.text import (
    collapse_whitespace,
    html_to_text,
    sanitize_html,
    sanitized_html_to_text,
    shorten,
    strip_control_chars,
)
from topics.urls_canon import canonical_url, strip_tracking, web_url

# Newest first in nearly every feed; older entries beyond this were seen on earlier fetches.
MAX_ENTRIES = 200
IDENTITY_MAX_CHARS = 500  # Article.identity
EARLIEST_PLAUSIBLE = dt.datetime(1995, 1, 1, tzinfo=dt.UTC)
FUTURE_TOLERANCE = dt.timedelta(days=1)
TITLE_FALLBACK_CHARS = 100
MAX_TTL_MINUTES = 24 * 60  # the polling interval never exceeds a day anyway
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
# Documents smaller than this are parsed whole; larger ones are cut after MAX_ENTRIES.
TRIM_ABOVE_BYTES = 512 * 1024
_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)
# Phrases of the challenge pages bot-protection services put in front of sites
# (Cloudflare, DDoS-Guard, Sucuri, Imperva, PerimeterX), lower-cased.
_CHALLENGE_MARKERS = (
    b"just a moment...",
    b"cf-browser-verification",
    b"challenge-platform",
    b"cf_chl_",
    b"checking your browser",
    b"ddos-guard",
    b"sucuri website firewall",
    b"_incapsula_resource",
    b"px-captcha",
    b"verify you are human",
)


class NotAFeed(ValueError):
    """The document is not an RSS/Atom feed we can read; `str()` says why, in plain words."""


@dataclass(frozen=True)
class EntryRecord:
    """One feed entry, parsed but not yet sanitized."""

    identity: str
    url: str
    title: str
    author: str
    summary: str  # raw HTML, or escaped plain text
    content: str  # raw HTML, or escaped plain text
    published_at: dt.datetime
    content_hash: str

    def article_fields(self) -> dict[str, Any]:
        """Sanitized values for an Article: the HTML made safe and the plain text built."""
        summary_html = sanitize_html(self.summary, self.url)
        content_html = sanitize_html(self.content, self.url)
        # The text comes from the sanitized HTML: the markup is parsed once, by nh3.
        parts = [
            self.title,
            sanitized_html_to_text(summary_html),
            sanitized_html_to_text(content_html),
        ]
        return {
            "url": self.url,
            "title": self.title,
            "author": self.author,
            "summary_html": summary_html,
            "content_html": content_html,
            "text": collapse_whitespace(" ".join(parts)),
            "content_hash": self.content_hash,
        }


@dataclass(frozen=True)
class ParsedFeed:
    records: list[EntryRecord]
    ttl: dt.timedelta | None  # the RSS <ttl>, when the feed gives one
    title: str = ""
    link: str = ""  # the site the feed belongs to


def parse_feed(body: bytes, content_type: str, url: str, now: dt.datetime) -> list[EntryRecord]:
    """The entries of a feed document, one per identity, in document order."""
    return parse_document(body, content_type, url, now).records


def parse_document(body: bytes, content_type: str, url: str, now: dt.datetime) -> ParsedFeed:
    """The entries of a feed document, one per identity, in document order, and what
    the feed says about itself.

    Raises NotAFeed when the bytes are not a feed (an HTML page, JSON, empty, or XML so
    broken that nothing usable is left). A well-formed feed with no entries is fine.
    """
    body = body.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not body:
        raise NotAFeed("not a feed (empty response)")
    body = keep_first_entries(body, MAX_ENTRIES)
    # Never pass Content-Location: feedparser would resolve plain GUIDs against it, so a
    # moved feed would re-key every entry (reference §0.7).
    parsed = feedparser.parse(
        body,
        response_headers={"content-type": with_detected_charset(body, content_type)},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    base = web_url(parsed.feed.get("link", ""), url) or url
    drafts = [_draft(entry, base, now) for entry in parsed.entries[:MAX_ENTRIES]]
    records = _assign_identities([d for d in drafts if d is not None])
    if not records and not _is_empty_feed(parsed):
        raise NotAFeed(_why_not_a_feed(parsed, body, content_type))
    title = collapse_whitespace(strip_control_chars(parsed.feed.get("title", "")))
    return ParsedFeed(records, parse_ttl(parsed.feed.get("ttl")), title, base)


@dataclass
class _Draft:
    guid: str
    canonical: str
    record: EntryRecord


def _draft(entry: Any, base: str, now: dt.datetime) -> _Draft | None:
    """An entry without its final identity, or None when it carries nothing at all."""
    link = _entry_link(entry, base)
    summary = _html_field(entry.get("summary_detail")) if entry.get("summary") else ""
    content = _entry_content(entry)
    if summary == content:  # feedparser mirrors content into summary when there is none
        summary = ""
    title = _entry_title(entry) or _fallback_title(summary, content, link)
    if not (title or link or summary or content):
        return None
    digest = _hash(title, link, summary, content)
    record = EntryRecord(
        identity="",
        url=link,
        title=title,
        author=shorten(collapse_whitespace(strip_control_chars(entry.get("author", ""))), 300),
        summary=summary,
        content=content,
        published_at=_entry_time(entry, now),
        content_hash=digest,
    )
    guid = collapse_whitespace(strip_control_chars(entry.get("id", "")))
    return _Draft(guid=guid, canonical=canonical_url(link), record=record)


def _assign_identities(drafts: list[_Draft]) -> list[EntryRecord]:
    """Identity = GUID, else canonical link, else content hash; first occurrence wins.

    A GUID shared by entries with different links is broken in this document (some
    feeds give every item the same GUID), so those entries fall back to their links
    instead of collapsing into one article.
    """
    links_by_guid: dict[str, set[str]] = defaultdict(set)
    for draft in drafts:
        if draft.guid:
            links_by_guid[draft.guid].add(draft.canonical)
    records: dict[str, EntryRecord] = {}
    for draft in drafts:
        guid_is_reliable = draft.guid and len(links_by_guid[draft.guid]) == 1
        identity = (
            draft.guid
            if guid_is_reliable
            else draft.canonical or f"sha256:{draft.record.content_hash}"
        )
        identity = _fit_identity(identity)
        if identity not in records:
            records[identity] = _with_identity(draft.record, identity)
    return list(records.values())


def _with_identity(record: EntryRecord, identity: str) -> EntryRecord:
    return EntryRecord(**{**record.__dict__, "identity": identity})


def _fit_identity(identity: str) -> str:
    if len(identity) <= IDENTITY_MAX_CHARS:
        return identity
    return "sha256:" + hashlib.sha256(identity.encode()).hexdigest()


def _entry_link(entry: Any, base: str) -> str:
    """The entry's web link, made absolute, tracking parameters removed; "" if none."""
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return _clean_link(web_url(link["href"], base))
    # Without <link>, feedparser copies a permalink GUID into `link`. A GUID is not
    # relative to anything, so only an absolute URL counts.
    return _clean_link(web_url(entry.get("link", "")))


def _clean_link(url: str) -> str:
    return strip_tracking(url) if url else ""


def _entry_title(entry: Any) -> str:
    detail = entry.get("title_detail") or {}
    raw = entry.get("title", "")
    if detail.get("type") in _HTML_TYPES:
        return html_to_text(raw)
    return collapse_whitespace(strip_control_chars(raw))


def _fallback_title(summary: str, content: str, link: str) -> str:
    text = html_to_text(summary) or html_to_text(content)
    return shorten(text, TITLE_FALLBACK_CHARS) if text else link


def _entry_content(entry: Any) -> str:
    contents = entry.get("content") or []
    html_first = sorted(contents, key=lambda c: c.get("type") not in _HTML_TYPES)
    return _html_field(html_first[0]) if html_first else ""


def _html_field(detail: Any) -> str:
    """A text construct as HTML: plain text is escaped so "a < b" survives sanitizing."""
    if not detail:
        return ""
    value = strip_control_chars(detail.get("value", "") or "")
    if detail.get("type") in _HTML_TYPES:
        return value.strip()
    return html.escape(value.strip(), quote=False)


def _entry_time(entry: Any, now: dt.datetime) -> dt.datetime:
    """Published, else updated; implausible or missing dates become `now`, the first-seen
    time (some feeds stamp items in 2099 or in 1970, reference §1.11)."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)  # plain dict lookup: skips feedparser's deprecated aliasing
        if parsed:
            try:
                year, month, day, hour, minute, second = parsed[:6]
                when = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
            except (TypeError, ValueError):
                continue
            if EARLIEST_PLAUSIBLE <= when <= now + FUTURE_TOLERANCE:
                return when
            return now
    return now


def _hash(*parts: str) -> str:
    # Hash the raw fields, not the sanitized ones: a sanitizer upgrade must not make
    # every stored article look changed.
    joined = "\x1f".join(parts)
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def _is_empty_feed(parsed: Any) -> bool:
    """A feed that parsed cleanly and has a title, but no entries right now."""
    return bool(parsed.get("version") and parsed.feed.get("title") and not _serious_bozo(parsed))


def _serious_bozo(parsed: Any) -> bool:
    # Wrong Content-Type or a corrected charset still leave a perfectly usable document.
    exc = parsed.get("bozo_exception")
    return bool(parsed.get("bozo")) and not isinstance(exc, ThingsNobodyCaresAboutButMe)


def parse_ttl(value: object) -> dt.timedelta | None:
    """An RSS <ttl> (minutes) as a duration, or None when absent or nonsense."""
    try:
        minutes = int(str(value).strip())
    except ValueError:
        return None
    if minutes <= 0:
        return None
    return dt.timedelta(minutes=min(minutes, MAX_TTL_MINUTES))


def keep_first_entries(body: bytes, limit: int) -> bytes:
    """The document with only its first `limit` entries, when it is large.

    feedparser parses everything it is given (20 s for 50,000 items) although only the
    first MAX_ENTRIES are used. Entries are contiguous in practice, so cutting from the
    end of the limit-th entry to the end of the last one leaves a well-formed document.
    """
    if len(body) <= TRIM_ABOVE_BYTES:
        return body
    ends = [m.end() for m in _ENTRY_END.finditer(body)]
    if len(ends) <= limit:
        return body
    return body[: ends[limit - 1]] + body[ends[-1] :]


def looks_like_bot_challenge(body: bytes) -> bool:
    head = body[:65536].lower()
    return any(marker in head for marker in _CHALLENGE_MARKERS)


def _why_not_a_feed(parsed: Any, body: bytes, content_type: str) -> str:
    head = body[:1024].lower()
    if looks_like_bot_challenge(body):
        return "blocked by bot protection (got a challenge page instead of the feed)"
    if "html" in content_type.lower() or b"<!doctype html" in head or head.startswith(b"<html"):
        return "not a feed (got an HTML page)"
    if "json" in content_type.lower() or head.startswith(b"{"):
        return "not a feed (JSON Feed is not supported)"
    if _serious_bozo(parsed):
        return f"not a feed (malformed XML: {_describe_xml_error(parsed['bozo_exception'])})"
    return "not a feed (no entries and no title)"


def _describe_xml_error(exc: Exception) -> str:
    get_message = getattr(exc, "getMessage", None)
    get_line = getattr(exc, "getLineNumber", None)
    if get_message and get_line:
        return f"{get_message()} at line {get_line()}"
    return str(exc)
