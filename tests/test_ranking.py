import datetime as dt

import pytest
from django.test import TestCase

from tests.factories import make_article, make_source, make_topic
from tests.test_enrichment import NOW, make_opinion_topic, make_wire_topic
from topics.enrichment import enrich_topics
from topics.models import Topic
from topics.ranking import rank_topics, topic_score


def ranked_ids() -> list[int]:
    return list(Topic.objects.visible().ranked().values_list("pk", flat=True))


class RankTopicsTests(TestCase):
    def test_five_source_story_ranks_above_a_single_source_opinion(self) -> None:
        opinion, _ = make_opinion_topic()
        wire, _ = make_wire_topic()
        enrich_topics([opinion.pk, wire.pk])
        self.assertEqual(rank_topics(NOW), 2)
        self.assertEqual(ranked_ids(), [wire.pk, opinion.pk])

    def test_pinned_topic_goes_first_whatever_its_score(self) -> None:
        opinion, _ = make_opinion_topic()
        wire, _ = make_wire_topic()
        enrich_topics([opinion.pk, wire.pk])
        Topic.objects.filter(pk=opinion.pk).update(is_pinned=True)
        rank_topics(NOW)
        self.assertEqual(ranked_ids(), [opinion.pk, wire.pk])

    def test_a_fresher_topic_outranks_an_equal_older_one(self) -> None:
        def topic_at(hours_ago: float) -> Topic:
            article = make_article(published_at=NOW - dt.timedelta(hours=hours_ago))
            return make_topic(
                [article], latest_at=article.published_at, importance=3, article_count=1
            )

        old, new = topic_at(30), topic_at(2)
        rank_topics(NOW)
        self.assertEqual(ranked_ids(), [new.pk, old.pk])

    def test_topics_older_than_three_days_keep_their_score(self) -> None:
        article = make_article(published_at=NOW - dt.timedelta(days=5))
        stale = make_topic([article], latest_at=article.published_at, score=7.5)
        self.assertEqual(rank_topics(NOW), 0)
        stale.refresh_from_db()
        self.assertEqual(stale.score, 7.5)

    def test_heavier_sources_raise_the_score(self) -> None:
        def topic_from(weight: float) -> Topic:
            article = make_article(make_source(weight=weight), published_at=NOW)
            return make_topic([article], latest_at=NOW, importance=2, article_count=1)

        light, heavy = topic_from(0.5), topic_from(2.0)
        rank_topics(NOW)
        self.assertEqual(ranked_ids(), [heavy.pk, light.pk])


def test_score_halves_with_age_and_grows_with_velocity() -> None:
    fresh = topic_score(3, 2.0, hours_old=0, velocity=0)
    assert topic_score(3, 2.0, hours_old=18, velocity=0) == pytest.approx(fresh / 2, abs=1e-5)
    assert topic_score(3, 2.0, hours_old=0, velocity=4) > fresh


class RepeatedNewsTests(TestCase):
    def make_story(self, day_old_sources: int, new_sources: int, same_source_today: bool) -> Topic:
        """A topic with sources first seen yesterday and/or today, all published recently."""
        yesterday = NOW - dt.timedelta(days=1)
        old = [make_source() for _ in range(day_old_sources)]
        articles = [
            make_article(s, published_at=NOW - dt.timedelta(hours=3), first_seen_at=yesterday)
            for s in old
        ]
        articles += [
            make_article(published_at=NOW - dt.timedelta(hours=1), first_seen_at=NOW)
            for _ in range(new_sources)
        ]
        if same_source_today:
            articles.append(
                make_article(old[0], published_at=NOW - dt.timedelta(hours=1), first_seen_at=NOW)
            )
        topic = make_topic(articles)
        enrich_topics([topic.pk])
        return topic

    def test_a_topic_that_only_repeats_yesterdays_lead_sinks_below_fresh_coverage(self) -> None:
        repeat = self.make_story(day_old_sources=4, new_sources=0, same_source_today=True)
        fresh = self.make_story(day_old_sources=0, new_sources=2, same_source_today=False)
        rank_topics(NOW)
        self.assertEqual(ranked_ids(), [fresh.pk, repeat.pk])

    def test_yesterdays_story_with_a_new_source_today_keeps_its_rank(self) -> None:
        grown = self.make_story(day_old_sources=4, new_sources=1, same_source_today=False)
        fresh = self.make_story(day_old_sources=0, new_sources=2, same_source_today=False)
        rank_topics(NOW)
        self.assertEqual(ranked_ids(), [grown.pk, fresh.pk])


def test_repeating_earlier_news_cuts_the_score() -> None:
    assert topic_score(4, 4.0, 1, 2, repeats=True) < topic_score(4, 4.0, 1, 2) / 2
