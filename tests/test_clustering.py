import collections
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from django.test import TestCase

from tests.factories import make_article, make_source, make_topic
from topics.clustering import (
    _apply,
    _window_articles,
    cluster_recent,
    document_for,
    plan_in_batches,
    plan_placement,
    vectorize,
)
from topics.models import Article, Source, Topic

NOW = dt.datetime(2026, 4, 21, 12, 0, tzinfo=dt.UTC)

FED = [
    (
        "Federal Reserve raises interest rates by a quarter point",
        "The Federal Reserve raised its benchmark interest rate by a quarter point on Wednesday, "
        "saying inflation remains too high. Chair Jerome Powell said more increases may follow.",
    ),
    (
        "Fed lifts interest rates a quarter point as inflation persists",
        "Federal Reserve officials lifted interest rates by a quarter percentage point, and "
        "Jerome Powell signalled the central bank could raise rates again to cool inflation.",
    ),
    (
        "Powell's Fed raises rates again to fight stubborn inflation",
        "The Federal Reserve raised interest rates for the tenth time, a quarter point move that "
        "Jerome Powell said was needed because inflation is still running hot.",
    ),
]
LAUNCH = [
    (
        "SpaceX launches Starship rocket on second test flight",
        "SpaceX launched its giant Starship rocket from Boca Chica in Texas on a second test "
        "flight, reaching space before the booster exploded over the Gulf of Mexico.",
    ),
    (
        "Starship reaches space on SpaceX's second test flight",
        "The Starship rocket built by SpaceX reached space on its second test flight from Texas, "
        "though the booster exploded minutes after launch.",
    ),
]
FOOTBALL = [
    (
        "Arsenal beat Chelsea to go top of the Premier League",
        "Arsenal beat Chelsea 3-1 at the Emirates Stadium on Saturday, with two goals from "
        "Bukayo Saka lifting the Gunners to the top of the Premier League table.",
    ),
]


def add(story: list[tuple[str, str]], hours_ago: float, **fields: object) -> list[Article]:
    return [
        make_article(
            title=title,
            text=text,
            published_at=NOW - dt.timedelta(hours=hours_ago - n * 0.5),
            **fields,
        )
        for n, (title, text) in enumerate(story)
    ]


def topic_of(article: Article) -> int | None:
    article.refresh_from_db()
    return article.topic_id


class ClusterRecentTests(TestCase):
    def test_same_story_from_three_sources_lands_in_one_topic(self) -> None:
        articles = add(FED, hours_ago=5)
        result = cluster_recent(NOW)
        topics = {topic_of(a) for a in articles}
        self.assertEqual(len(topics), 1)
        self.assertEqual(result.topic_ids, list(topics))
        self.assertEqual(len({a.source_id for a in articles}), 3)

    def test_different_stories_stay_apart(self) -> None:
        fed, launch, football = add(FED, 5), add(LAUNCH, 4), add(FOOTBALL, 3)
        result = cluster_recent(NOW)
        self.assertEqual(len(result.topic_ids), 3)
        self.assertEqual(len({topic_of(a) for a in fed}), 1)
        self.assertEqual(len({topic_of(a) for a in launch}), 1)
        self.assertEqual(len({topic_of(a) for a in fed + launch + football}), 3)

    def test_new_topics_need_enrichment(self) -> None:
        add(FED, hours_ago=5)
        result = cluster_recent(NOW)
        self.assertTrue(Topic.objects.get(pk=result.topic_ids[0]).needs_enrichment)

    def test_rerun_with_no_new_articles_changes_nothing(self) -> None:
        articles = add(FED, 5) + add(LAUNCH, 4)
        cluster_recent(NOW)
        Topic.objects.update(needs_enrichment=False)
        before = [(a.pk, topic_of(a)) for a in articles]
        ids = set(Topic.objects.values_list("pk", "cluster_id"))

        result = cluster_recent(NOW + dt.timedelta(minutes=15))

        self.assertEqual(result.topic_ids, [])
        self.assertEqual([(a.pk, topic_of(a)) for a in articles], before)
        self.assertEqual(set(Topic.objects.values_list("pk", "cluster_id")), ids)
        self.assertFalse(Topic.objects.filter(needs_enrichment=True).exists())

    def test_growing_topic_keeps_its_pk_and_cluster_id(self) -> None:
        first = add(FED[:1], hours_ago=8)
        cluster_recent(NOW - dt.timedelta(hours=7))
        topic = Topic.objects.get()
        later = add(FED[1:], hours_ago=2) + add(LAUNCH, hours_ago=1)

        result = cluster_recent(NOW)

        self.assertEqual({topic_of(a) for a in first + later[:2]}, {topic.pk})
        self.assertEqual(Topic.objects.get(pk=topic.pk).cluster_id, topic.cluster_id)
        self.assertIn(topic.pk, result.topic_ids)
        self.assertEqual(result.created, 1)  # the launch story

    def test_existing_assignments_are_never_reshuffled(self) -> None:
        # An odd pair from an earlier run stays together even though the Fed story grows apart.
        odd_members = add(FED[:1], hours_ago=6) + add(FOOTBALL, hours_ago=6)
        odd = make_topic(odd_members)
        add(FED[1:], hours_ago=3)
        cluster_recent(NOW)
        self.assertEqual({topic_of(a) for a in odd_members}, {odd.pk})

    def test_locked_topic_gets_no_new_members(self) -> None:
        locked = make_topic(add(FED[:1], hours_ago=6), is_locked=True, needs_enrichment=False)
        rest = add(FED[1:], hours_ago=3)
        result = cluster_recent(NOW)
        self.assertEqual(Article.objects.filter(topic=locked).count(), 1)
        self.assertNotIn(locked.pk, result.topic_ids)
        self.assertEqual(len({topic_of(a) for a in rest}), 1)

    def test_locked_articles_are_never_moved(self) -> None:
        # Removed from every topic by an editor, and locked: it stays on its own.
        loose = add(FED[:1], hours_ago=6, topic_locked=True)[0]
        add(FED[1:], hours_ago=3)
        cluster_recent(NOW)
        self.assertIsNone(topic_of(loose))

    def test_topics_an_editor_changed_are_listed_for_enrichment(self) -> None:
        edited = make_topic(add(LAUNCH, hours_ago=30), needs_enrichment=True)
        add(FED, hours_ago=2)
        result = cluster_recent(NOW)
        self.assertIn(edited.pk, result.topic_ids)
        self.assertEqual(len(result.topic_ids), 2)

    def test_articles_placed_by_a_concurrent_run_are_not_taken_again(self) -> None:
        articles = add(FED, hours_ago=5)
        window = _window_articles(NOW)
        plan = plan_placement(
            vectorize([document_for(a.title, a.text) for a in window]),
            np.zeros(len(window)),
            [None] * len(window),
            [True] * len(window),
        )
        # Someone else got there first: the articles now sit in another topic.
        other = make_topic(articles, needs_enrichment=False)

        placed, created = _apply(plan, window)

        self.assertEqual((placed, created), (0, 0))
        self.assertEqual(list(Topic.objects.values_list("pk", flat=True)), [other.pk])

    def test_articles_outside_the_window_are_left_alone(self) -> None:
        old = add(FED[:1], hours_ago=24 * 4)[0]
        cluster_recent(NOW)
        self.assertIsNone(topic_of(old))

    def test_replay_gives_the_same_topics_and_cluster_ids(self) -> None:
        def run() -> list[tuple[str, str]]:
            source = Source.objects.first() or make_source()
            for n, (title, text) in enumerate(FED + LAUNCH):
                make_article(
                    source, identity=f"urn:replay:{n}", title=title, text=text,
                    published_at=NOW - dt.timedelta(hours=6 - n),
                )  # fmt: skip
            cluster_recent(NOW)
            rows = Article.objects.order_by("identity").values_list("identity", "topic__cluster_id")
            return list(rows)

        first = run()
        Article.objects.all().delete()
        Topic.objects.all().delete()
        self.assertEqual(run(), first)

    def test_a_run_with_only_stop_words_still_places_articles(self) -> None:
        article = make_article(title="The", text="and the of", published_at=NOW)
        cluster_recent(NOW)
        self.assertIsNotNone(topic_of(article))


def test_placement_joins_a_group_to_the_existing_topic_it_resembles() -> None:
    docs = ["fed raises rates inflation", "fed rates inflation powell", "starship launch texas"]
    plan = plan_placement(vectorize(docs), np.zeros(3), [7, None, None], [False, True, True])
    assert plan.joins == {7: [1]}
    assert plan.groups == [[2]]


def test_placing_in_small_batches_keeps_clear_stories_together() -> None:
    docs = [document_for(title, text) for title, text in FED + LAUNCH + FOOTBALL]
    vectors, hours = vectorize(docs), np.arange(len(docs), dtype=float)
    plan = plan_in_batches(vectors, hours, [None] * len(docs), [True] * len(docs), batch_size=2)
    assert plan.joins == {}
    assert plan.groups == [[0, 1, 2], [3, 4], [5]]


def bcubed_f1(gold: list[str], predicted: list[object]) -> float:
    gold_sets, predicted_sets = collections.defaultdict(set), collections.defaultdict(set)
    for n, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        gold_sets[g].add(n)
        predicted_sets[p].add(n)
    precision = recall = 0.0
    for g, p in zip(gold, predicted, strict=True):
        shared = len(gold_sets[g] & predicted_sets[p])
        precision += shared / len(predicted_sets[p])
        recall += shared / len(gold_sets[g])
    precision, recall = precision / len(gold), recall / len(gold)
    return 2 * precision * recall / (precision + recall)


def replay(path: Path) -> float:
    """Feed a labelled set day by day through cluster_recent, as the service would meet it."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by_day: dict[dt.date, list[dict]] = collections.defaultdict(list)
    for row in rows:
        published = dt.datetime.fromisoformat(row["published"])
        row["published_at"] = published.replace(tzinfo=published.tzinfo or dt.UTC)
        by_day[row["published_at"].date()].append(row)
    sources: dict[str, Source] = {}
    for day in sorted(by_day):
        for row in by_day[day]:
            name = (row["source"] or "unknown").lower()
            if name not in sources:
                sources[name] = make_source(name=name)
            make_article(
                sources[name], identity=row["id"], title=row["title"], text=row["text"],
                published_at=row["published_at"], first_seen_at=row["published_at"],
            )  # fmt: skip
        cluster_recent(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    topics = dict(Article.objects.values_list("identity", "topic_id"))
    return bcubed_f1([r["cluster"] for r in rows], [topics[r["id"]] for r in rows])


@pytest.mark.django_db
@pytest.mark.shared_data
def test_basil_replayed_day_by_day_clusters_with_bcubed_f1_of_at_least_085(shared_data) -> None:
    path = shared_data / "clustering" / "basil.jsonl"
    if not path.exists():
        pytest.skip("basil.jsonl is not present")
    assert replay(path) >= 0.85
