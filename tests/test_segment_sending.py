"""Sending honours each reader's preference segment, over both transports."""

import datetime as dt
import re

import pytest
from django.core import mail

from newsletter.digests import build_digest
from newsletter.sending import send_digest
from tests.factories import make_subscriber
from tests.news_day import make_news_day
from tests.smtpserver import running_smtp_server, use_smtp_server

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def card_categories(text: str) -> list[str]:
    return re.findall(r"^\d+/5 · (\w+)", text, flags=re.M)


def readers_and_digest():
    make_news_day(12, now=NOW)
    make_subscriber("all@example.com")
    make_subscriber("tech@example.com", categories=["technology"])
    make_subscriber("top@example.com", min_importance=4, max_topics=2)
    return build_digest(NOW.date())


def test_each_reader_is_sent_the_cards_their_preferences_pick():
    send_digest(readers_and_digest().pk)
    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert len(card_categories(bodies["all@example.com"])) == 10
    assert card_categories(bodies["tech@example.com"]) == ["technology", "technology"]
    assert card_categories(bodies["top@example.com"]) == ["business", "technology"]


def test_segments_hold_over_real_smtp_too(settings):
    with running_smtp_server() as server:
        use_smtp_server(settings, server)
        send_digest(readers_and_digest().pk)
    bodies = {m.rcpt_tos[0]: m.part("plain") for m in server.messages}
    assert card_categories(bodies["tech@example.com"]) == ["technology", "technology"]
