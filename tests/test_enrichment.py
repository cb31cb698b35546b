import datetime as dt

import time_machine
from django.test import TestCase

from tests.factories import make_article, make_source, make_topic
from topics.enrichment import Signals, article_importance, enrich_topics
from topics.entities import extract_entities
from topics.models import Article, Category, Kind, Relation, Tag, Topic, TopicCategory
from topics.summarize import clean_body, split_sentences, write_card_text

NOW = dt.datetime(2026, 4, 21, 12, 0, tzinfo=dt.UTC)

ESSAY = " ".join(
    [
        "Open models still trail the closed ones, and the gap is harder to read than the "
        "leaderboards suggest.",
        "ChatGPT, Claude and Gemini 3 all post strong numbers on the composite indexes that "
        "everyone quotes.",
        "Yet the composite scores hide how differently these systems behave on agentic work.",
        "When I test Claude on long coding tasks it holds together far better than its benchmark "
        "rank implies, while Gemini 3 scores well and sees little real-world adoption.",
        "ChatGPT remains the default for most people, which says more about distribution than "
        "about capability.",
        "The open labs are closing the gap on the benchmarks they can measure, but the frontier "
        "keeps moving to tasks nobody has a good benchmark for yet.",
        "That is why I expect the gap to persist for as long as the closed labs keep investing "
        "in capabilities that no public index captures.",
        "Benchmarks were built for a world of single answers, and the work has moved on to long "
        "sequences of actions, tools and judgement calls that a score flattens.",
        "So read every leaderboard with care, and ask what it cannot see before you ask what it "
        "ranks.",
        "The companies know this too, which is why their own evaluations have quietly become "
        "more important than the public ones.",
        "For the open ecosystem the lesson is to build evaluations of real work, not to chase "
        "another point on a composite index that ChatGPT, Claude and Gemini 3 already top.",
        "None of this means the open models are standing still; their progress over the past "
        "year has been remarkable by any measure we have.",
    ]
)

FED_STORY = [
    (
        "Federal Reserve raises interest rates by a quarter point",
        "The Federal Reserve raised its benchmark interest rate by a quarter point on Wednesday. "
        "Jerome Powell said inflation remains too high and more increases may follow.",
    ),
    (
        "Fed lifts interest rates as inflation persists",
        "Federal Reserve officials lifted interest rates by a quarter percentage point. "
        "Jerome Powell signalled the central bank could raise rates again to cool inflation.",
    ),
    (
        "Powell's Fed raises rates again to fight stubborn inflation",
        "The Federal Reserve raised interest rates for the tenth time in a row. "
        "Jerome Powell said the quarter point move was needed because inflation runs hot.",
    ),
    (
        "Markets slip after the Federal Reserve raises rates",
        "Stocks slipped after the Federal Reserve raised interest rates by a quarter point. "
        "Investors had hoped Jerome Powell would signal a pause in the increases.",
    ),
    (
        "What the Federal Reserve's rate rise means for borrowers",
        "The quarter point rise in interest rates by the Federal Reserve will lift mortgage "
        "costs. Jerome Powell said the bank would watch inflation data closely.",
    ),
]


def make_opinion_topic() -> tuple[Topic, Article]:
    source = make_source(
        name="Interconnects (Nathan Lambert)",
        relation=Relation.FIRST_PARTY,
        default_kind=Kind.OPINION,
        category=Category.BUSINESS,
    )
    article = make_article(
        source,
        title="Reading today's open-closed performance gap",
        text=ESSAY,
        kind=Kind.OPINION,
        author="Nathan Lambert",
        published_at=NOW - dt.timedelta(hours=20),
    )
    return make_topic([article]), article


def make_wire_topic() -> tuple[Topic, list[Article]]:
    categories = [Category.BUSINESS, Category.BUSINESS, Category.BUSINESS, "", Category.POLICY]
    weights = [1.0, 2.0, 1.0, 1.0, 1.0]
    articles = [
        make_article(
            make_source(category=category, weight=weight),
            title=title,
            text=text,
            published_at=NOW - dt.timedelta(hours=5 - n),
        )
        for n, ((title, text), category, weight) in enumerate(
            zip(FED_STORY, categories, weights, strict=True)
        )
    ]
    return make_topic(articles), articles


class EnrichTopicsTests(TestCase):
    def test_single_source_first_party_opinion_reads_like_the_reference_card(self) -> None:
        topic, article = make_opinion_topic()
        self.assertEqual(enrich_topics([topic.pk]), 1)
        topic.refresh_from_db()
        article.refresh_from_db()
        self.assertEqual(article.importance, 2)
        self.assertEqual((topic.importance, topic.importance_max), (2, 2))
        self.assertEqual(
            (topic.coverage_label, topic.article_count_label), ("single-source", "1 article")
        )
        self.assertEqual(topic.lead_article, article)
        self.assertEqual(topic.headline, article.title)
        self.assertEqual(topic.category, Category.BUSINESS)
        self.assertEqual(topic.primary_entity, "Nathan Lambert")
        self.assertEqual(set(topic.tags), {"ChatGPT", "Claude", "Gemini 3"})
        self.assertEqual((topic.earliest_at, topic.latest_at), (article.published_at,) * 2)
        self.assertFalse(topic.needs_enrichment)

    def test_five_source_story_is_more_important_and_led_by_the_weightiest_source(self) -> None:
        topic, articles = make_wire_topic()
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual((topic.source_count, topic.article_count), (5, 5))
        self.assertEqual(topic.coverage_label, "5 sources")
        self.assertGreaterEqual(topic.importance, 4)
        self.assertEqual(topic.lead_article, articles[1])  # weight 2.0
        self.assertEqual(topic.headline, articles[1].title)
        self.assertEqual(topic.category, Category.BUSINESS)  # three of the four that say
        self.assertEqual(topic.primary_entity, "Federal Reserve")
        self.assertIn("Jerome Powell", topic.tags)
        self.assertEqual(topic.earliest_at, articles[0].published_at)
        self.assertEqual(topic.latest_at, articles[-1].published_at)

    def test_dek_is_one_sentence_and_the_summary_adds_others(self) -> None:
        topic, _ = make_wire_topic()
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(len(split_sentences(topic.dek)), 1)
        self.assertNotIn(topic.dek, topic.summary)
        self.assertGreaterEqual(len(split_sentences(topic.summary)), 2)

    def test_summary_leaves_out_near_duplicate_sentences(self) -> None:
        same = "The Federal Reserve raised its benchmark interest rate by a quarter point today."
        articles = [
            make_article(
                title=f"Fed {n}", text=f"{same} Jerome Powell told reporters about vote {n} here."
            )
            for n in range(3)
        ]
        topic = make_topic(articles)
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(f"{topic.dek} {topic.summary}".count("benchmark interest rate"), 1)

    def test_fields_an_editor_wrote_survive_enrichment(self) -> None:
        topic, _ = make_wire_topic()
        Topic.objects.filter(pk=topic.pk).update(
            headline="Editor's headline", tags=["Hand", "Picked"],
            edited_fields=["headline", "tags"],
        )  # fmt: skip
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(topic.headline, "Editor's headline")
        self.assertEqual(topic.tags, ["Hand", "Picked"])
        self.assertNotEqual(topic.dek, "")  # the rest is still filled in

    def test_editors_boost_moves_importance_within_one_to_five(self) -> None:
        topic, _ = make_opinion_topic()
        Topic.objects.filter(pk=topic.pk).update(importance_boost=9)
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual((topic.importance, topic.importance_max), (5, 2))

    def test_category_comes_from_keywords_when_sources_have_none(self) -> None:
        article = make_article(
            title="Arsenal beat Chelsea to go top of the league",
            text="Arsenal won the match 3-1 and lead the league after a strong season.",
        )
        topic = make_topic([article])
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(topic.category, Category.SPORTS)

    def test_emptied_topic_is_counted_empty(self) -> None:
        topic = make_topic([], article_count=3, source_count=2)
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(
            (topic.article_count, topic.source_count, topic.lead_article), (0, 0, None)
        )

    def test_query_count_does_not_grow_with_the_number_of_topics(self) -> None:
        one, _ = make_opinion_topic()
        # Categories, tags, then the transaction: topics, articles, two bulk updates.
        with self.assertNumQueries(8):
            enrich_topics([one.pk])
        many = [make_wire_topic()[0].pk, make_opinion_topic()[0].pk, make_wire_topic()[0].pk]
        with self.assertNumQueries(8):
            enrich_topics(many)


def signals(**overrides: object) -> Signals:
    values: dict[str, object] = {
        "weight": 1.0, "kind": Kind.NEWS, "sources": 1, "fast_sources": 0, "is_first": True,
        "body_chars": 500,
    }  # fmt: skip
    values.update(overrides)
    return Signals(**values)  # type: ignore[arg-type]


class ArticleImportanceTests(TestCase):
    def test_a_five_source_breaking_story_from_a_weighty_source_scores_five(self) -> None:
        self.assertEqual(article_importance(signals(weight=1.5, sources=5, fast_sources=4)), 5)

    def test_the_same_story_covered_slowly_by_an_ordinary_source_scores_four(self) -> None:
        self.assertEqual(article_importance(signals(sources=5, is_first=False)), 4)

    def test_more_sources_mean_more_importance(self) -> None:
        scores = [article_importance(signals(sources=n)) for n in (1, 3, 5)]
        self.assertEqual(scores, sorted(scores))
        self.assertLess(scores[0], scores[-1])

    def test_a_single_source_first_party_announcement_scores_one_or_two_by_weight(self) -> None:
        self.assertEqual(article_importance(signals(kind=Kind.ANNOUNCEMENT, weight=0.9)), 1)
        self.assertEqual(article_importance(signals(kind=Kind.ANNOUNCEMENT)), 2)

    def test_a_short_single_source_opinion_from_a_light_source_scores_one(self) -> None:
        self.assertEqual(article_importance(signals(kind=Kind.OPINION, weight=0.8)), 1)

    def test_a_long_read_counts_a_little_more(self) -> None:
        self.assertEqual(article_importance(signals(kind=Kind.OPINION, body_chars=2000)), 2)

    def test_a_lone_aggregator_post_scores_the_minimum(self) -> None:
        self.assertEqual(article_importance(signals(kind=Kind.AGGREGATOR, weight=0.5)), 1)


def test_entities_skip_words_capitalised_only_at_sentence_start() -> None:
    texts = [
        "Officials said Lumora Systems would ship the chip. Analysts expect officials to agree.",
        "Lumora Systems confirmed the chip ships in May. Officials declined to comment.",
    ]
    names = [e.name for e in extract_entities(["Chip news", "More chip news"], texts)]
    assert names == ["Lumora Systems"]


def test_entities_fold_a_surname_into_the_full_name_and_drop_job_titles() -> None:
    texts = [
        "Senate Majority Leader Harry Reid spoke on Tuesday. Reid said the vote would wait.",
        "Harry Reid's office said the vote would wait. Twitter's Adam Sharp had no comment.",
    ]
    found = {e.name: e.mentions for e in extract_entities(["Reid delays", "Vote waits"], texts)}
    assert found == {"Harry Reid": 3}  # Adam Sharp appears once only


def test_entities_ignore_headline_case_words_the_bodies_do_not_confirm() -> None:
    found = extract_entities(
        ["Eurozone Retail Sales Edge Lower Despite Improving Sentiment"],
        ["Retail sales in the Eurozone fell in October. The Eurozone economy is weak."],
    )
    assert [e.name for e in found] == ["Eurozone"]


def test_entities_leave_out_the_sources_own_names() -> None:
    texts = ["Northwire reports that Kestrel Aerospace launched. Northwire and Kestrel Aerospace."]
    found = extract_entities(["Launch"], texts, exclude={"Northwire"})
    assert [e.name for e in found] == ["Kestrel Aerospace"]


def test_sentences_do_not_end_at_abbreviations_or_initials() -> None:
    text = "Mr. Smith met George W. Bush in the U.S. Senate on Jan. 5. Then he left!\nNew line"
    assert split_sentences(text) == [
        "Mr. Smith met George W. Bush in the U.S. Senate on Jan. 5.",
        "Then he left!",
        "New line",
    ]


def test_card_text_keeps_reading_order_and_leaves_the_dek_out_of_the_summary() -> None:
    docs = [
        "The city council approved the new harbour bridge on Monday evening after a long debate. "
        "Construction of the harbour bridge will start next spring and take three years.",
        "Residents near the harbour bridge site worry about noise during construction work.",
    ]
    card = write_card_text("Council approves harbour bridge", docs)
    sentences = split_sentences(card.summary)
    assert len(split_sentences(card.dek)) == 1
    assert card.dek not in card.summary
    assert sentences and all(s in " ".join(docs) for s in sentences)
    order = [" ".join(docs).index(s) for s in sentences]
    assert order == sorted(order)


def test_a_one_sentence_topic_gets_a_dek_and_no_repeated_summary() -> None:
    card = write_card_text("Kestrel opens a test site", ["Kestrel opened its Harlow site today."])
    assert (card.dek, card.summary) == ("Kestrel opened its Harlow site today.", "")


def test_the_dek_never_restates_the_headline() -> None:
    body = (
        "Orbitly fined 310 million crowns over app store payment rules. "
        "Developers get 90 days to link to outside payment pages, the authority ruled."
    )
    card = write_card_text("Orbitly fined 310 million crowns over app store payment rules", [body])
    assert card.dek.startswith("Developers get 90 days")


def test_clean_body_drops_the_glued_headline_and_publisher_chrome() -> None:
    text = (
        "Competition Authority to examine takeover The Arden Competition Authority will examine "
        "the deal. Read more »\nThe post Takeover appeared first on The Ledger.\nShare this: X"
    )
    body = clean_body("Competition Authority to examine takeover", text)
    assert body == "The Arden Competition Authority will examine the deal."


def test_units_are_not_names() -> None:
    texts = ["Forecasters expect 38°C in Ashby on Friday and 37°C on Saturday. Ashby is hot."]
    assert [e.name for e in extract_entities(["Heat in Ashby"], texts)] == ["Ashby"]


def test_sentence_openers_are_not_part_of_the_name_after_them() -> None:
    texts = [
        "Expect Orbitly to appeal the ruling. Retailer Parcelo said sales fell.",
        "The ruling hits Orbitly hard. Introducing Lumora Studio, the company praised Parcelo.",
    ]
    names = {e.name for e in extract_entities(["Orbitly fined", "Orbitly ruling"], texts)}
    assert {"Orbitly", "Parcelo"} <= names
    assert not names & {"Expect Orbitly", "Retailer Parcelo", "Introducing Lumora Studio"}


def test_a_first_word_that_mostly_stands_alone_is_its_own_name() -> None:
    texts = [
        "Nimbusforge Kellbridge-1 went down for six hours. Nimbusforge apologised.",
        "Card payments failed during the Nimbusforge outage.",
        "Shops blamed Nimbusforge for the queues.",
    ]
    found = [e.name for e in extract_entities(["Nimbusforge outage"] * 3, texts)]
    assert found[0] == "Nimbusforge"


class EditableListsTests(TestCase):
    def test_vocabulary_tags_come_first_spelled_as_the_editors_spell_them(self) -> None:
        Tag.objects.create(name="ChatGPT", aliases="Chat GPT, chatgpt")
        topic, _ = make_opinion_topic()
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(topic.tags[0], "ChatGPT")

    def test_an_alias_of_an_automatic_name_shows_the_tag_name(self) -> None:
        Tag.objects.create(name="Gemini", aliases="Gemini 3")
        topic, _ = make_opinion_topic()
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertIn("Gemini", topic.tags)
        self.assertNotIn("Gemini 3", topic.tags)

    def test_a_blocked_name_is_never_a_tag(self) -> None:
        Tag.objects.create(name="Claude", is_blocked=True)
        topic, _ = make_opinion_topic()
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertNotIn("Claude", topic.tags)

    def test_a_category_editors_add_is_used(self) -> None:
        TopicCategory.objects.create(
            slug="space", name="Space", keywords="rocket, orbit, satellites", position=0
        )
        article = make_article(
            title="Kestrel rocket reaches orbit",
            text="The Kestrel rocket put six satellites into orbit on Tuesday morning.",
        )
        topic = make_topic([article])
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(topic.category, "space")

    def test_a_heat_warning_is_climate_not_sports(self) -> None:
        article = make_article(
            make_source(category=Category.SPORTS),
            title="Amber heat warning for Ashby as 38°C forecast",
            text="The Met Service issued an amber heat warning for Ashby. The heatwave will peak "
            "on Friday, and the league postponed one match.",
        )
        topic = make_topic([article])
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(topic.category, Category.CLIMATE)
        self.assertNotIn("C", topic.tags)


class CardQualityTests(TestCase):
    def test_dek_does_not_glue_the_headline_to_the_first_sentence(self) -> None:
        title = "Competition Authority to examine Lumora's Brightwave Robotics takeover"
        body = (
            "The Arden Competition Authority will examine whether Lumora Systems could shut "
            "rival robot makers out of its Helix chips. A decision is due within 40 working days."
        )
        article = make_article(title=title, text=f"{title} {body}")
        topic = make_topic([article])
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertTrue(topic.dek.startswith("The Arden Competition Authority will examine"))
        self.assertNotIn(title, topic.summary)

    def test_a_single_source_opinion_is_single_source_and_low(self) -> None:
        source = make_source(name="The Margin", relation=Relation.FIRST_PARTY, weight=0.8)
        article = make_article(
            source,
            kind=Kind.OPINION,
            title="The quiet cost of free shipping",
            text="Parcelo raised its free-shipping threshold this week. Expect every retailer to "
            "follow within a year, because free delivery was never free.",
        )
        topic = make_topic([article])
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(topic.coverage_label, "single-source")
        self.assertEqual(topic.importance, 1)

    def test_a_five_source_breaking_story_gets_the_top_importance(self) -> None:
        topic, _ = make_wire_topic()
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(topic.importance_max, 5)
        # Everyone covered it within the hour: each article counts as breaking coverage.
        self.assertTrue(all(a.importance >= 4 for a in Article.objects.filter(topic=topic)))

    def test_a_lead_an_editor_chose_is_kept(self) -> None:
        topic, articles = make_wire_topic()
        Topic.objects.filter(pk=topic.pk).update(
            lead_article=articles[3], edited_fields=["lead_article"]
        )
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertEqual(topic.lead_article, articles[3])


class RefreshTests(TestCase):
    def test_refreshing_enriches_only_the_topics_clustering_changed(self) -> None:
        from topics.tasks import refresh_topics

        wire = make_source(name="Wire")
        first = NOW - dt.timedelta(hours=3)
        with time_machine.travel(first, tick=False):
            for title, text in FED_STORY[:2]:
                make_article(wire, title=title, text=text, published_at=first)
            refresh_topics()
        fed = Topic.objects.get()
        enriched_at = fed.updated_at

        with time_machine.travel(NOW, tick=False):
            make_article(
                wire,
                title="Kestrel Aerospace launches six Tern satellites from Varro Island",
                text="Kestrel Aerospace put six Tern satellites into orbit on an Osprey-2 rocket.",
                published_at=NOW,
            )
            refresh_topics()

        fed.refresh_from_db()
        self.assertEqual(Topic.objects.count(), 2)
        self.assertEqual(fed.updated_at, enriched_at)  # untouched: its articles did not change
        launch = Topic.objects.exclude(pk=fed.pk).get()
        self.assertEqual(launch.updated_at, NOW)
