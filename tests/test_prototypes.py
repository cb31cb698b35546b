import datetime as dt
from email import message_from_bytes, policy

import pytest

from newsletter import emails, prototypes, smtp
from newsletter.emails import RenderedEmail
from newsletter.prototypes import MessagePrototype
from tests.factories import make_subscriber

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)

# Signed tokens carry a timestamp: a second boundary between building the prototype and
# the ordinary message would make their links differ.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


EMAIL = RenderedEmail(
    "Daybrief for Thu 26 Nov: Rates cut",
    f"1. Rates cut\n\nPreferences: {emails.PREFERENCES_PLACEHOLDER}\n"
    f"Unsubscribe with one click: {emails.UNSUBSCRIBE_PLACEHOLDER}\n",
    f'<p>Rates cut</p><a href="{emails.PREFERENCES_PLACEHOLDER}">Preferences</a>'
    f'<a href="{emails.UNSUBSCRIBE_PLACEHOLDER}">Unsubscribe</a>',
)


def parse(stuffed: bytes):
    # Undo dot-stuffing the way a server does before reading the message.
    return message_from_bytes(stuffed.replace(b"\r\n..", b"\r\n."), policy=policy.default)


def test_an_addressed_prototype_matches_the_ordinary_message_for_that_reader(settings):
    settings.UNSUBSCRIBE_MAILTO = "leave@daybrief.example"
    reader = make_subscriber("alice@example.com")
    prototype = MessagePrototype.build(EMAIL)
    assert prototype is not None
    addressed = prototype.address(reader)
    assert addressed is not None
    fast = parse(addressed.data)
    slow_data, _ = prototypes.slow_message(EMAIL, reader)
    slow = parse(slow_data)
    for header in ("To", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"):
        assert fast[header] == slow[header], header
    assert fast["Message-ID"] == addressed.message_id
    for kind in ("plain", "html"):
        fast_body = fast.get_body(preferencelist=(kind,)).get_content()
        assert fast_body == slow.get_body(preferencelist=(kind,)).get_content()
    # Nothing of the stand-in reader is left for the real one to see.
    assert prototypes.STAND_IN_ADDRESS.encode() not in addressed.data


def test_each_reader_gets_their_own_links_and_message_id():
    alice, bob = make_subscriber("alice@example.com"), make_subscriber("bob@example.com")
    prototype = MessagePrototype.build(EMAIL)
    to_alice, to_bob = prototype.address(alice), prototype.address(bob)
    assert to_alice.message_id != to_bob.message_id
    assert parse(to_alice.data)["List-Unsubscribe"] != parse(to_bob.data)["List-Unsubscribe"]


def test_a_body_that_mime_must_encode_falls_back_to_the_slow_path():
    # A line longer than SMTP allows is quoted-printable encoded, which can split the link.
    long_line = "x" * 2000 + emails.UNSUBSCRIBE_PLACEHOLDER + "y" * 2000
    email = RenderedEmail("Subject", long_line, long_line)
    assert MessagePrototype.build(email) is None


def test_a_non_ascii_address_is_built_the_slow_way():
    reader = make_subscriber("zoë@example.com")
    assert MessagePrototype.build(EMAIL).address(reader) is None


def test_dot_stuffing_doubles_leading_dots_and_ends_with_a_line_break():
    assert smtp.dot_stuff(b".a\r\n.b\r\nc") == b"..a\r\n..b\r\nc\r\n"
