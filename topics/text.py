"""HTML from feeds made safe for pages and email, and turned into plain text.

Feed HTML is untrusted: it ends up in a web page and in an email digest, so it goes
through nh3 (ammonia) with a small allow-list. feedparser's own sanitizer is off
because it keeps `<form>`/`<input>` and is several times slower (see
shared/reference/feed-ingestion.md §1.8, §3.3).
"""

import re
from html import unescape

import nh3

from topics.urls_canon import web_url

# Enough to keep a story readable; nothing interactive, no embeds, no styling.
ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "del",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "abbr": {"title"},
}
# These go with everything inside them: their text is code or chrome, not story.
DROPPED_WITH_CONTENT = {
    "head",
    "title",
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "svg",
    "math",
    "select",
}
URL_SCHEMES = {"http", "https", "mailto"}
# Very long fragments are cut before sanitizing so one hostile entry cannot eat the CPU.
MAX_HTML_CHARS = 200_000

# C0 controls except tab/newline/carriage return: Postgres rejects NUL, email clients choke.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Tags after which text from the next element must not be glued to this one.
_BLOCK_TAGS = ALLOWED_TAGS - {
    "a",
    "abbr",
    "b",
    "cite",
    "code",
    "del",
    "em",
    "i",
    "ins",
    "q",
    "s",
} | {
    "div",
    "section",
    "article",
    "header",
    "footer",
    "dd",
    "dt",
    "dl",
}
# Tags as nh3 (html5ever) writes them: attribute values always in double quotes, and
# "<" and ">" escaped in text and attributes alike. Only read nh3 output with these.
_ATTRIBUTES = r"""(?:[^>"]|"[^"]*")*>"""
_BLOCK_TAG = re.compile(
    rf"</?(?:{'|'.join(sorted(_BLOCK_TAGS, key=len, reverse=True))})(?=[\s/>]){_ATTRIBUTES}"
)
_ANY_TAG = re.compile(rf"</?[a-zA-Z][^\s/>]*{_ATTRIBUTES}")


def strip_control_chars(value: str) -> str:
    return _CONTROL_CHARS.sub("", value)


def sanitize_html(html: str, base_url: str = "") -> str:
    """`html` with only the allow-listed tags and attributes and http/https/mailto URLs.

    Relative URLs are rewritten against `base_url` (normally the article's link) when
    that is an absolute http(s) URL, and dropped otherwise: a relative link in an
    email points nowhere. Every link gets rel="noopener noreferrer nofollow".
    """
    if not html:
        return ""
    base = web_url(base_url)
    relative: object = ("rewrite_with_base", base) if base else "deny"
    return nh3.clean(
        strip_control_chars(html[:MAX_HTML_CHARS]),
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        url_relative=relative,  # type: ignore[arg-type]
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def html_to_text(html: str) -> str:
    """The readable text of an HTML fragment on one line: entities decoded, tags and
    script/style content dropped, whitespace collapsed."""
    if not html:
        return ""
    # nh3 parses the untrusted markup (in Rust) down to bare block tags; reading text
    # out of its well-formed output is then a regular-expression job.
    blocks_only = nh3.clean(
        strip_control_chars(html[:MAX_HTML_CHARS]),
        tags=_BLOCK_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes={},
        strip_comments=True,
    )
    return sanitized_html_to_text(blocks_only)


def sanitized_html_to_text(html: str) -> str:
    """`html_to_text` for the output of `sanitize_html` (or any nh3 output), which is
    not parsed again: block tags become spaces, other tags vanish, entities decode."""
    return collapse_whitespace(unescape(_ANY_TAG.sub("", _BLOCK_TAG.sub(" ", html))))


def collapse_whitespace(value: str) -> str:
    # str.split() splits on exactly what r"\s+" matches, several times faster.
    return " ".join(value.split())


def shorten(value: str, limit: int) -> str:
    """`value` cut at a word boundary to at most `limit` characters, with an ellipsis."""
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    if not value[limit - 1].isspace():  # the cut fell inside a word: drop that word
        cut = cut.rsplit(" ", 1)[0] or cut
    return cut.rstrip(" ,;:.-") + "…"
