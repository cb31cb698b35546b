import datetime as dt
from unittest import mock

import pytest
import time_machine

from newsletter import digests
from newsletter.digests import build_digest
from newsletter.models import Delivery, DeliveryStatus, Digest, SubscriberStatus
from tests.factories import make_article, make_subscriber, make_topic

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
DAY = NOW.date()

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


def make_story(headline: str, score: float, **fields: object):
    article = make_article(title=headline)
    defaults = {"headline": headline, "score": score, "article_count": 1, "lead_article": article}
    defaults.update(fields)
    return make_topic([article], **defaults)


def test_digest_holds_the_days_visible_topics_in_ranked_order():
    middle = make_story("Middle", score=5)
    top = make_story("Top", score=9)
    make_story("Hidden", score=10, is_hidden=True)
    yesterday = make_article(first_seen_at=NOW - dt.timedelta(days=1))
    make_topic([yesterday], headline="Yesterday", score=20, article_count=1)
    digest = build_digest(DAY)
    assert digest.ranked_topics() == [top, middle]
    assert digest.subject == "Daybrief for Thu 26 Nov: Top and 1 more"


def test_digest_keeps_at_most_the_configured_number_of_topics(settings):
    settings.DAYBRIEF_DIGEST_MAX_TOPICS = 2
    for score in range(4):
        make_story(f"Story {score}", score=score)
    digest = build_digest(DAY)
    assert [str(topic) for topic in digest.ranked_topics()] == ["Story 3", "Story 2"]


def test_digest_with_one_story_says_no_more():
    make_story("Only one", score=1)
    assert build_digest(DAY).subject == "Daybrief for Thu 26 Nov: Only one"


def test_digest_freezes_one_pending_delivery_per_confirmed_subscriber():
    make_story("Top", score=9)
    alice = make_subscriber("alice@example.com")
    make_subscriber("pending@example.com", status=SubscriberStatus.PENDING)
    make_subscriber("gone@example.com", status=SubscriberStatus.UNSUBSCRIBED)
    digest = build_digest(DAY)
    deliveries = list(digest.deliveries.all())
    assert [(d.subscriber, d.status) for d in deliveries] == [(alice, DeliveryStatus.PENDING)]


def test_building_twice_returns_the_same_digest_and_deliveries():
    make_story("Top", score=9)
    make_subscriber()
    first = build_digest(DAY)
    deliveries = list(Delivery.objects.values_list("pk", "subscriber_id"))
    make_subscriber("late@example.com")
    make_story("Later story", score=99)
    second = build_digest(DAY)
    assert second.pk == first.pk
    assert Digest.objects.count() == 1
    # Recipients and topics were frozen by the first build.
    assert list(Delivery.objects.values_list("pk", "subscriber_id")) == deliveries
    assert [str(topic) for topic in second.ranked_topics()] == ["Top"]


def test_a_digest_built_by_another_worker_first_is_returned_not_duplicated():
    make_story("Top", score=9)
    make_subscriber()
    theirs = build_digest(DAY)
    # Our look-up ran before their insert committed: the unique date catches it.
    with mock.patch.object(digests, "find_digest", side_effect=[None, theirs]):
        ours = build_digest(DAY)
    assert ours == theirs
    assert Digest.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_a_day_without_stories_gets_a_digest_whose_deliveries_are_skipped():
    make_subscriber()
    digest = build_digest(DAY)
    assert digest.subject == "Daybrief for Thu 26 Nov: no new stories"
    assert digest.ranked_topics() == []
    assert list(digest.deliveries.values_list("status", flat=True)) == [DeliveryStatus.SKIPPED]


def test_subject_shortens_a_very_long_headline():
    make_story("word " * 100, score=1)
    assert len(build_digest(DAY).subject) < 160
