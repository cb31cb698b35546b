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


def test_digest_keeps_the_days_best_topics_up_to_the_pool_size(monkeypatch, settings):
    monkeypatch.setattr(digests, "POOL_SIZE", 2)
    # The email's card limit does not shrink the pool: narrower segments pick from it.
    settings.DAYBRIEF_DIGEST_MAX_TOPICS = 1
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


def test_each_delivery_records_its_readers_segment():
    make_story("Top", score=9, category="business", importance=3)
    plain = make_subscriber()
    picky = make_subscriber(categories=["business"], min_importance=3, max_topics=5)
    digest = build_digest(DAY)
    segments = dict(digest.deliveries.values_list("subscriber", "segment"))
    assert segments == {plain.pk: "all/1/10", picky.pk: "business/3/5"}


# --- Continuity -----------------------------------------------------------------------

YESTERDAY = DAY - dt.timedelta(days=1)


def sent_yesterday(headline: str, articles: int, sources: int):
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        topic = make_story(headline, score=5, article_count=articles, source_count=sources)
        build_digest(YESTERDAY)
    return topic


def grow(topic, articles: int, sources: int) -> None:
    """Today's clustering adds an article, and enrichment recounts."""
    make_article(title=f"{topic.headline}: more", topic=topic)
    topic.article_count, topic.source_count = articles, sources
    topic.save()


def test_a_story_sent_yesterday_that_grew_comes_back_marked_updated():
    topic = sent_yesterday("Rates cut", articles=2, sources=2)
    grow(topic, articles=4, sources=3)
    [item] = build_digest(DAY).items.all()
    assert item.topic == topic
    assert (item.is_update, item.new_article_count, item.new_source_count) == (True, 2, 1)
    # Today's size is kept for tomorrow's comparison.
    assert (item.article_count, item.source_count) == (4, 3)


def test_a_story_sent_yesterday_that_did_not_grow_is_left_out():
    topic = sent_yesterday("Rates cut", articles=2, sources=2)
    # Seen again today (say, yesterday's digest was built late), but nothing was added
    # since it was sent.
    make_article(title="Rates cut: a copy", topic=topic)
    fresh = make_story("Storm season", score=1)
    digest = build_digest(DAY)
    assert digest.ranked_topics() == [fresh]
    assert digest.subject == "Daybrief for Thu 26 Nov: Storm season"


def test_a_new_story_is_not_an_update():
    make_story("Storm season", score=1)
    [item] = build_digest(DAY).items.all()
    assert not item.is_update
    assert (item.article_count, item.source_count) == (1, 0)


def test_an_update_is_compared_with_its_latest_appearance_not_its_first():
    topic = sent_yesterday("Rates cut", articles=2, sources=2)
    with time_machine.travel(NOW - dt.timedelta(days=3), tick=False):
        # An older digest that carried the story when it was smaller.
        Digest.objects.create(date=DAY - dt.timedelta(days=3), subject="old").items.create(
            topic=topic, position=1, article_count=1, source_count=1
        )
    grow(topic, articles=3, sources=2)
    [item] = build_digest(DAY).items.all()
    assert (item.new_article_count, item.new_source_count) == (1, 0)
