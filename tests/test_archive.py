"""The public web archive of a day's digest: the "view in browser" page."""

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from newsletter import emails
from newsletter.digests import build_digest
from newsletter.models import Delivery
from tests.factories import make_article, make_subscriber
from tests.news_day import make_news_day

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
DAY = NOW.date()

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def test_view_in_browser_leads_to_the_archive_at_a_stable_url(client):
    make_news_day(3, now=NOW)
    reader = make_subscriber()
    digest = build_digest(DAY)
    message = emails.message_for(Delivery.objects.get(), emails.RenderedSegments(digest))
    [(html, _)] = message.alternatives
    url = re.search(r'href="([^"]*)"[^>]*>View in your browser', html)[1]
    assert url == "http://localhost:8000/digests/2026-11-26/"
    response = client.get(url.removeprefix("http://localhost:8000"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Central bank cuts rates by half a point" in content
    assert reader.email not in content


def test_archive_shows_every_story_of_the_day_even_those_no_email_had_room_for(client):
    make_news_day(30, now=NOW)
    response = client.get(build_digest(DAY).get_absolute_url())
    content = response.content.decode()
    assert content.count('class="card-headline"') == 30
    assert "30 stories, most important first" in content


def test_archive_cards_show_lead_coverage_other_sources_tags_and_updates(client):
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        [rates] = make_news_day(1)
        build_digest(DAY - dt.timedelta(days=1))
    make_article(title="Banks pass the cut on", topic=rates)
    rates.article_count += 1
    rates.save()
    response = client.get(build_digest(DAY).get_absolute_url())
    content = response.content.decode()
    assert "Lead coverage:" in content
    assert "Also:" in content
    assert "Interest rates" in content
    assert "Updated: 1 new article" in content
    # Nothing personal: no reader's links, and no preferences either.
    assert "/unsubscribe/" not in content
    assert "/preferences/" not in content


def test_a_second_reader_gets_the_archive_without_a_query(client, django_assert_num_queries):
    make_news_day(3, now=NOW)
    url = build_digest(DAY).get_absolute_url()
    first = client.get(url).content
    with django_assert_num_queries(0):
        assert Client().get(url).content == first


def test_a_story_taken_out_of_a_digest_leaves_its_archive_page_at_once(client):
    make_news_day(3, now=NOW)
    digest = build_digest(DAY)
    url = digest.get_absolute_url()
    assert "3 stories" in client.get(url).content.decode()
    digest.items.order_by("position").last().delete()  # as the admin's inline does
    assert "2 stories" in client.get(url).content.decode()
