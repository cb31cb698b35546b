"""The character encoding of a feed that declares none, or wrongly declares UTF-8.

feedparser honours the charset of the HTTP Content-Type, then the XML declaration.
With no label at all, or a UTF-8 label, on bytes that are not UTF-8, it falls back to
windows-1252: right for cp1252 bytes labelled UTF-8, mojibake for KOI8-R or cp1251
Russian (reference §1.10). Only in those cases is the encoding guessed, with
charset-normalizer, and handed to feedparser as the HTTP charset, which it then prefers.
"""

import codecs
import re
from email.message import Message

from charset_normalizer import from_bytes

# Reading the declaration needs only the start of the document.
_PROLOG_BYTES = 512
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']\s*([A-Za-z][\w.:-]*)""")
# UTF-16/32 byte-order marks declare the encoding as surely as a label does.
_BOMS = (b"\xff\xfe", b"\xfe\xff")
# What the web assumes of unlabelled Western text (WHATWG, feedparser, CommaFeed); the
# detector cannot tell it from cp1250/cp1257 on text those read just as cleanly.
_WESTERN_DEFAULT = "cp1252"


def with_detected_charset(body: bytes, content_type: str) -> str:
    """`content_type` (application/xml when empty), with the charset of `body` put in
    when `body` is not UTF-8 and neither the header nor the document declares an
    encoding other than UTF-8."""
    content_type = content_type or "application/xml"
    declared = _declared_charset(body, content_type)
    if (declared and not _is_utf8_label(declared)) or _is_utf8(body):
        return content_type
    encoding = detect(body)
    if encoding is None:
        return content_type
    media_type = content_type.split(";", 1)[0].strip() or "application/xml"
    return f"{media_type}; charset={encoding}"


def detect(body: bytes) -> str | None:
    """The most likely encoding of `body`, preferring windows-1252 whenever it reads
    the bytes as cleanly as the detector's first choice; None when nothing does."""
    matches = from_bytes(body)
    best = matches.best()
    if best is None:
        return None
    cleanest = (m for m in matches if m.chaos <= best.chaos)
    if any(_WESTERN_DEFAULT in m.could_be_from_charset for m in cleanest):
        return _WESTERN_DEFAULT
    return best.encoding


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
    try:
        return codecs.lookup(label).name == "utf-8"
    except LookupError:  # a label Python does not know: feedparser's problem
        return False


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
