"""Serialise a digest's MIME once per body, then address it to each reader by substitution.

Building and serialising an EmailMultiAlternatives costs ~4 ms a message; a digest body is
the same for every reader of a segment except for their address, their unsubscribe links
and the Message-ID. So we build the real message (emails.digest_message) once for a
stand-in reader, serialise and dot-stuff it once, and swap the stand-in's values for each
reader's: microseconds. Whenever the swap cannot be trusted (a value that MIME had to
encode or split, so it does not appear verbatim) `address` returns None and the caller
builds the message the slow, ordinary way.

The reader's links themselves are made from `LinkShape`s: the stand-in's link cut around
its signed token, so each reader's link costs one signature, not a URL reversal (the
shapes are checked against the real link functions when the prototype is built).
"""

from collections.abc import Callable
from dataclasses import dataclass
from email.utils import make_msgid
from typing import Self
from urllib.parse import quote

from django.core.mail import EmailMultiAlternatives

from newsletter import emails, smtp, tokens
from newsletter.emails import RenderedEmail
from newsletter.models import Subscriber

# No real subscriber has this primary key; tokens for it are never handed to anyone.
STAND_IN_PK = 999_999_999_999
STAND_IN_ADDRESS = "stand-in-reader@daybrief.invalid"


@dataclass(frozen=True)
class Addressed:
    data: bytes
    message_id: str


@dataclass(frozen=True)
class LinkShape:
    """A personal link cut around its signed token: a reader's link is the same text
    around that reader's token (percent-encoded in mailto: links)."""

    purpose: str
    before: str
    after: str
    quoted: bool

    @classmethod
    def of(cls, link: str, purpose: str, token: str) -> Self | None:
        for quoted in (False, True):
            needle = quote(token) if quoted else token
            if link.count(needle) == 1:
                before, _, after = link.partition(needle)
                return cls(purpose, before, after, quoted)
        return None

    def link(self, token: str) -> str:
        return self.before + (quote(token) if self.quoted else token) + self.after


# Each personal link in a digest, and the purpose of the token it carries.
PERSONAL_LINKS: tuple[tuple[Callable[[Subscriber], str], str], ...] = (
    (tokens.unsubscribe_url, tokens.UNSUBSCRIBE),
    (tokens.unsubscribe_mailto, tokens.UNSUBSCRIBE),
    (emails.preferences_url, tokens.PREFERENCES),
)


@dataclass(frozen=True)
class MessagePrototype:
    stuffed: bytes
    stand_in_values: tuple[bytes, ...]
    # How often each stand-in value occurs (a check for tests and debugging).
    counts: tuple[int, ...]
    shapes: tuple[LinkShape | None, ...]
    domain: str

    @classmethod
    def build(cls, email: RenderedEmail) -> "MessagePrototype | None":
        # Signed links carry a timestamp: if a second ticked between building the message
        # and recomputing its links, they differ; a second try almost never does (and if it
        # does, readers get the slow path, which is always right).
        return cls._build(email) or cls._build(email)

    @classmethod
    def _build(cls, email: RenderedEmail) -> "MessagePrototype | None":
        stand_in = Subscriber(pk=STAND_IN_PK, email=STAND_IN_ADDRESS)
        message = emails.digest_message(email, stand_in)
        data = normalise_line_ends(message.message().as_bytes(linesep="\r\n"))
        message_id = message.extra_headers["Message-ID"]
        links = [make(stand_in) for make, _ in PERSONAL_LINKS]
        shapes = link_shapes(links)
        values = reader_values(stand_in, message_id, links)
        counts = tuple(data.count(value) for value in values)
        # The unsubscribe link, To and Message-ID are always there; the others may not be.
        if min(counts[0], counts[3], counts[4]) < 1 or mentions_stand_in(data, values):
            return None
        # The shapes must give back exactly what the real link functions gave.
        if shapes is None or shaped_links(shapes, stand_in.pk) != links:
            return None
        return cls(smtp.dot_stuff(data), values, counts, shapes, emails.sender_domain())

    def address(self, subscriber: Subscriber) -> Addressed | None:
        """The message for `subscriber`, dot-stuffed, or None to build it the slow way."""
        if not subscriber.email.isascii():
            return None
        message_id = make_msgid(domain=self.domain)
        links = shaped_links(self.shapes, subscriber.pk)
        data = self.stuffed
        for old, new in zip(
            self.stand_in_values, reader_values(subscriber, message_id, links), strict=True
        ):
            if old:
                data = data.replace(old, new)
        return Addressed(data, message_id)


def link_shapes(links: list[str]) -> tuple[LinkShape | None, ...] | None:
    """The stand-in's links cut around its tokens ("" links have no shape); None when a
    link does not hold a fresh stand-in token exactly once (a second ticked meanwhile)."""
    stand_in_tokens = {
        purpose: tokens.make_token(purpose, STAND_IN_PK) for _, purpose in PERSONAL_LINKS
    }
    shapes: list[LinkShape | None] = []
    for link, (_, purpose) in zip(links, PERSONAL_LINKS, strict=True):
        shape = LinkShape.of(link, purpose, stand_in_tokens[purpose]) if link else None
        if link and shape is None:
            return None
        shapes.append(shape)
    return tuple(shapes)


def shaped_links(shapes: tuple[LinkShape | None, ...], subscriber_id: int) -> list[str]:
    """The reader's links, signing each purpose's token once."""
    signed: dict[str, str] = {}
    links = []
    for shape in shapes:
        if shape is None:
            links.append("")
            continue
        if shape.purpose not in signed:
            signed[shape.purpose] = tokens.make_token(shape.purpose, subscriber_id)
        links.append(shape.link(signed[shape.purpose]))
    return links


def reader_values(subscriber: Subscriber, message_id: str, links: list[str]) -> tuple[bytes, ...]:
    """Everything in a digest message that belongs to one reader ("" when unused):
    the links of PERSONAL_LINKS, then the To and Message-ID headers."""
    values = [*links, f"To: {subscriber.email}\r\n", f"Message-ID: {message_id}\r\n"]
    return tuple(value.encode() for value in values)


def mentions_stand_in(data: bytes, values: tuple[bytes, ...]) -> bool:
    """True when the stand-in's id or address survives outside the values we replace:
    some personal value we do not know about, which would leak to every reader."""
    for value in values:
        if value:
            data = data.replace(value, b"")
    stand_in_token = tokens.make_token(tokens.UNSUBSCRIBE, STAND_IN_PK).partition(":")[0]
    return stand_in_token.encode() in data or STAND_IN_ADDRESS.encode() in data


def slow_message(email: RenderedEmail, subscriber: Subscriber) -> tuple[bytes, str]:
    message: EmailMultiAlternatives = emails.digest_message(email, subscriber)
    data = message.message().as_bytes(linesep="\r\n")
    return smtp.dot_stuff(normalise_line_ends(data)), message.extra_headers["Message-ID"]


def normalise_line_ends(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
