"""Serialise a digest's MIME once per body, then address it to each reader by substitution.

Building and serialising an EmailMultiAlternatives costs ~4 ms a message; a digest body is
the same for every reader of a segment except for their address, their unsubscribe links
and the Message-ID. So we build the real message (emails.digest_message) once for a
stand-in reader, serialise and dot-stuff it once, and swap the stand-in's values for each
reader's: microseconds. Whenever the swap cannot be trusted (a value that MIME had to
encode or split, so it does not appear verbatim) `address` returns None and the caller
builds the message the slow, ordinary way.
"""

from dataclasses import dataclass
from email.utils import make_msgid

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
class MessagePrototype:
    stuffed: bytes
    stand_in_values: tuple[bytes, ...]
    # How often each stand-in value occurs (a check for tests and debugging).
    counts: tuple[int, ...]

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
        values = reader_values(stand_in, message.extra_headers["Message-ID"])
        counts = tuple(data.count(value) for value in values)
        # The unsubscribe link, To and Message-ID are always there; the others may not be.
        if min(counts[0], counts[2], counts[3]) < 1 or mentions_stand_in(data, values):
            return None
        return cls(smtp.dot_stuff(data), values, counts)

    def address(self, subscriber: Subscriber) -> Addressed | None:
        """The message for `subscriber`, dot-stuffed, or None to build it the slow way."""
        if not subscriber.email.isascii():
            return None
        message_id = make_msgid(domain=emails.sender_domain())
        data = self.stuffed
        for old, new in zip(
            self.stand_in_values, reader_values(subscriber, message_id), strict=True
        ):
            if old:
                data = data.replace(old, new)
        return Addressed(data, message_id)


def reader_values(subscriber: Subscriber, message_id: str) -> tuple[bytes, ...]:
    """Everything in a digest message that belongs to one reader ("" when unused)."""
    values = [
        tokens.unsubscribe_url(subscriber),
        tokens.unsubscribe_mailto(subscriber),
        f"To: {subscriber.email}\r\n",
        f"Message-ID: {message_id}\r\n",
    ]
    # The preferences link arrives with the email work (issue 6); the guard in `build`
    # keeps us on the slow path if a personal value is ever missing from this list.
    preferences_url = getattr(emails, "preferences_url", None)
    if preferences_url is not None:
        values.append(preferences_url(subscriber))
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
