"""The one place MJML becomes the HTML that is mailed (mjml-python, the Rust MRML port).

Three steps: compile the MJML; inline the critical CSS into `style` attributes (Gmail's
apps drop `<head>` styles in some views, and mjml-python ignores `mj-style inline`); and
break long lines, so the HTML part goes out as 8bit rather than quoted-printable, which
is both smaller and much cheaper to serialise per recipient.
"""

import re
from functools import lru_cache

import css_inline
from mjml import mjml2html

# RFC 5322 caps a line at 998 octets and Django falls back to quoted-printable above it;
# the margin leaves room for the reader's links, which replace shorter placeholders.
MAX_LINE_BYTES = 700
# Breaking before these tags changes nothing a reader sees: whitespace between table rows,
# cells and block elements is not rendered.
_BLOCK_TAG = re.compile(r"(?=<(?:table|/table|tr|/tr|td|/td|div|/div|p[ >]|/p|!--)\b)")


class MJMLError(ValueError):
    """The MJML source did not parse; the message names the template."""


def compile_mjml(source: str, name: str = "<string>", inline_css: str = "") -> str:
    """HTML for an MJML document, with `inline_css` inlined. Costs about a millisecond for
    a full digest, so callers compile once per email kind, issue and segment, never once
    per recipient."""
    try:
        # No fonts: MJML would otherwise load Google Fonts, a request per open.
        html = mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise MJMLError(f"{name}: {exc}") from exc
    if inline_css:
        html = _inliner(inline_css).inline(html)
    return break_long_lines(html)


@lru_cache(maxsize=8)
def _inliner(css: str) -> css_inline.CSSInliner:
    # MJML's own <head> styles (resets, media queries, dark mode) stay where they are:
    # inlining its "table, td" reset into every cell would only add weight.
    return css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        load_remote_stylesheets=False,
        minify_css=True,
        extra_css=css,
    )


def break_long_lines(html: str) -> str:
    """`html` with no line longer than MAX_LINE_BYTES, broken where it renders the same."""
    lines = html.split("\n")
    if all(len(line) <= MAX_LINE_BYTES // 4 for line in lines):
        return html
    return "\n".join(_break_line(line) for line in lines)


def _break_line(line: str) -> str:
    if _fits(line):
        return line
    lines = _pack(_BLOCK_TAG.split(line), "")
    # What is still too long is a run of text or attributes, where a newline is the same
    # as a space.
    return "\n".join(
        text if _fits(text) else "\n".join(_pack(text.split(" "), " ")) for text in lines
    )


def _pack(pieces: list[str], joiner: str) -> list[str]:
    """`pieces` joined into as few lines of at most MAX_LINE_BYTES as they allow."""
    lines: list[str] = []
    current = ""
    for piece in pieces:
        candidate = current + joiner + piece if current else piece
        if current and not _fits(candidate):
            lines.append(current)
            candidate = piece
        current = candidate
    if current:
        lines.append(current)
    return lines


def _fits(line: str) -> bool:
    return len(line.encode()) <= MAX_LINE_BYTES
