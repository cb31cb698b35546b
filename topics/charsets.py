"""The character encoding of a feed that declares none, or declares a wrong one.

feedparser honours the charset of the HTTP Content-Type, then the XML declaration.
With no label at all, or a UTF-8 label, on bytes that are not UTF-8, it falls back to
windows-1252: right for cp1252 bytes labelled UTF-8, mojibake for KOI8-R or cp1251
Russian (reference §1.10). A wrong single-byte label (KOI8-R served as windows-1251)
decodes without an error into mojibake. In those cases the encoding is guessed, with
charset-normalizer, and handed to feedparser as the HTTP charset, which it then prefers.
"""

import codecs
import re
from email.message import Message

from charset_normalizer import CharsetMatch, CharsetMatches, from_bytes
from charset_normalizer.utils import is_multi_byte_encoding

# Reading the declaration needs only the start of the document.
_PROLOG_BYTES = 512
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']\s*([A-Za-z][\w.:-]*)""")
# UTF-16/32 byte-order marks declare the encoding as surely as a label does.
_BOMS = (b"\xff\xfe", b"\xfe\xff")
# What the web assumes of unlabelled Western text (WHATWG, feedparser, CommaFeed); the
# detector cannot tell it from cp1250/cp1257 on text those read just as cleanly.
_WESTERN_DEFAULT = "cp1252"
# How much more mess (charset-normalizer's chaos, 0..1) a declared label's text must show
# than the detector's first choice before the label is overruled. Correct labels scored
# 0 on every capture in ../shared/data/feeds transcoded into 15 code pages; the mildest
# wrong label measured, Portuguese read as cp1251, scored 0.03.
_LABEL_MESS_MARGIN = 0.02


def with_detected_charset(body: bytes, content_type: str) -> str:
    """`content_type` (application/xml when empty), with the charset of `body` put in
    when `body` is not UTF-8 and nothing declares another encoding, or when a declared
    single-byte encoding reads `body` much less cleanly than the detected one."""
    content_type = content_type or "application/xml"
    encoding = _encoding_to_impose(body, _declared_charset(body, content_type))
    if encoding is None:
        return content_type
    media_type = content_type.split(";", 1)[0].strip() or "application/xml"
    return f"{media_type}; charset={encoding}"


def detect(body: bytes) -> str | None:
    """The most likely encoding of `body`, preferring windows-1252 whenever it reads
    the bytes as cleanly as the detector's first choice; None when nothing does."""
    matches = _detect_all(body)
    best = matches.best()
    return None if best is None else _preferred(matches, best)


def _detect_all(body: bytes) -> CharsetMatches:
    # Detection runs only when the document's own declaration is not believed, so
    # charset-normalizer must not settle on it early (its "preemptive behaviour").
    return from_bytes(body, preemptive_behaviour=False)


def _preferred(matches: CharsetMatches, best: CharsetMatch) -> str:
    cleanest = (m for m in matches if m.chaos <= best.chaos)
    if any(_WESTERN_DEFAULT in m.could_be_from_charset for m in cleanest):
        return _WESTERN_DEFAULT
    return best.encoding


def _encoding_to_impose(body: bytes, declared: str) -> str | None:
    """The encoding feedparser should use instead of what `declared` (the label, or "")
    and its own fallbacks would give; None to leave the choice to feedparser."""
    if not declared or _is_utf8_label(declared):
        return None if _is_utf8(body) else detect(body)
    codec = _codec_name(declared)
    # ASCII reads the same in every single-byte encoding; multi-byte labels are trusted.
    if codec is None or is_multi_byte_encoding(codec) or body.isascii():
        return None
    return _cleaner_than(body, codec)


def _cleaner_than(body: bytes, codec: str) -> str | None:
    """The detected encoding when it reads `body` clearly more cleanly than the declared
    single-byte `codec`; None when the label holds, as most labels are right."""
    declared = from_bytes(body, cp_isolation=[codec]).best()
    if declared is not None and declared.chaos == 0:
        return None  # the usual case, settled by trying one code page
    matches = _detect_all(body)
    best = matches.best()
    # No match: the label's text passed charset-normalizer's own limit of mess (0.2).
    declared_chaos = 1.0 if declared is None else declared.chaos
    if best is None or declared_chaos - best.chaos < _LABEL_MESS_MARGIN:
        return None
    return _preferred(matches, best)


def _declared_charset(body: bytes, content_type: str) -> str:
    """The encoding the HTTP header, a UTF-16/32 byte-order mark or the XML declaration
    names, in that order (feedparser's); "" when none does."""
    header = Message()
    header["content-type"] = content_type
    if charset := header.get_content_charset():
        return charset
    if body.startswith(_BOMS):
        return "utf-16"
    declaration = _XML_ENCODING.match(body[:_PROLOG_BYTES])
    return declaration.group(1).decode("ascii") if declaration else ""


def _is_utf8_label(label: str) -> bool:
    return _codec_name(label) == "utf-8"


def _codec_name(label: str) -> str | None:
    try:
        return codecs.lookup(label).name
    except LookupError:  # a label Python does not know: feedparser's problem
        return None


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
