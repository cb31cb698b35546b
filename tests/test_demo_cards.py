"""The demo newsroom's topics make complete, sensible cards, whatever clustering does.

Each demo story becomes one topic here (grouped by its story key, as a perfect clustering
would), with articles stored the way ingestion stores them (headline glued to the text).
"""

import datetime as dt
from collections import defaultdict

import time_machine
from django.test import TestCase

from tests.factories import make_article, make_source, make_topic
from topics.demo.content import ARTICLES, SOURCES, DemoArticle
from topics.enrichment import enrich_topics
from topics.models import Kind, Topic
from topics.ranking import rank_topics

# Late in the day, so the anchor's day holds the demo's "today" articles.
ANCHOR = dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.UTC)


def load_stories() -> dict[str, Topic]:
    sources = {
        demo.slug: make_source(
            name=demo.name,
            relation=demo.relation,
            default_kind=demo.default_kind,
            weight=demo.weight,
            category=demo.category,
        )
        for demo in SOURCES
    }
    stories: dict[str, list[DemoArticle]] = defaultdict(list)
    for article in ARTICLES:
        stories[article.story].append(article)
    topics = {}
    for story, articles in stories.items():
        members = [
            make_article(
                sources[a.source],
                title=a.title,
                text=f"{a.title} {a.summary}",
                author=a.author,
                kind=sources[a.source].default_kind,
                published_at=a.published_at(ANCHOR),
                first_seen_at=a.published_at(ANCHOR),
            )
            for a in articles
        ]
        topics[story] = make_topic(members)
    return topics


class DemoCardTests(TestCase):
    def setUp(self) -> None:
        self.enterContext(time_machine.travel(ANCHOR, tick=False))
        self.topics = load_stories()
        enrich_topics(t.pk for t in self.topics.values())
        rank_topics(ANCHOR)
        for topic in self.topics.values():
            topic.refresh_from_db()

    def todays(self) -> list[Topic]:
        return list(Topic.objects.visible().for_day(ANCHOR.date()).ranked())

    def test_the_biggest_story_of_the_day_ranks_first(self) -> None:
        ranked = self.todays()
        biggest = max(ranked, key=lambda t: (t.source_count, t.article_count))
        self.assertEqual(ranked[0], biggest)
        self.assertEqual(ranked[0].importance, 5)

    def test_the_single_source_opinion_piece_reads_single_source_and_ranks_low(self) -> None:
        opinions = [
            t
            for t in self.topics.values()
            if t.source_count == 1 and t.lead_article.kind == Kind.OPINION
        ]
        self.assertTrue(opinions)
        ranked = self.todays()
        for topic in opinions:
            self.assertEqual(topic.coverage_label, "single-source")
            self.assertLessEqual(topic.importance, 2)
            if topic in ranked:
                self.assertGreater(ranked.index(topic), len(ranked) // 2)

    def test_importance_spreads_over_the_scale(self) -> None:
        levels = {t.importance for t in self.topics.values()}
        self.assertGreaterEqual(len(levels), 3)

    def test_every_card_is_complete(self) -> None:
        for topic in self.topics.values():
            with self.subTest(topic=topic.headline):
                self.assertTrue(topic.headline and topic.dek and topic.category)
                self.assertTrue(topic.primary_entity)
                self.assertEqual(topic.headline, topic.lead_article.title)

    def test_no_dek_or_summary_carries_a_glued_headline_or_repeats_the_dek(self) -> None:
        for topic in self.topics.values():
            titles = list(topic.articles.values_list("title", flat=True))
            with self.subTest(topic=topic.headline):
                self.assertFalse(any(f"{t} " in topic.dek for t in titles))
                self.assertFalse(any(f"{t} " in topic.summary for t in titles))
                self.assertNotIn(topic.dek, topic.summary)

    def test_tags_and_entities_are_names(self) -> None:
        for topic in self.topics.values():
            names = [topic.primary_entity, *topic.tags]
            with self.subTest(topic=topic.headline, names=names):
                self.assertTrue(all(len(name) > 1 for name in names))
                first_words = {name.split()[0] for name in names}
                self.assertFalse(first_words & {"Expect", "Introducing", "Retailer"})
                self.assertNotIn(topic.primary_entity, topic.tags)

    def test_a_heatwave_is_not_sports(self) -> None:
        heat = [t for t in self.topics.values() if "heat" in t.headline.lower()]
        self.assertTrue(heat)
        self.assertTrue(all(t.category == "climate" for t in heat))
