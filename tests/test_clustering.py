import collections
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from django.test import TestCase
from scipy import sparse
from sklearn.preprocessing import normalize

from tests.factories import make_article, make_source, make_topic
from topics.clustering import (
    FOLLOW_UP_DECAY_HOURS,
    FOLLOW_UP_GRACE_HOURS,
    MERGE_THRESHOLD,
    _apply,
    cluster_recent,
    crowded_threshold,
    plan_in_batches,
    plan_placement,
    publication_hours,
    time_fade,
    time_faded,
)
from topics.models import Article, Source, Topic
from topics.placement import Plan, Times
from topics.weighing import vectorize, weigh
from topics.window import Window, load_window

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


def planned_window() -> tuple[Window, Plan]:
    """The window now, and the plan a run would make for all of it (not yet written)."""
    window = load_window(NOW, 72)
    count = len(window.articles)
    plan = plan_placement(weigh(window.counts), np.zeros(count), [None] * count, [True] * count)
    return window, plan


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
        window, plan = planned_window()
        # Someone else got there first: the articles now sit in another topic.
        other = make_topic(articles, needs_enrichment=False)

        placed, created = _apply(plan, window.articles)

        self.assertEqual((placed, created), (0, 0))
        self.assertEqual(list(Topic.objects.values_list("pk", flat=True)), [other.pk])

    def test_a_concurrent_run_that_placed_one_story_leaves_the_rest_to_this_run(self) -> None:
        fed, launch = add(FED, hours_ago=5), add(LAUNCH, hours_ago=3)
        window, plan = planned_window()
        # Someone else got there first for one story only.
        other = make_topic(launch, needs_enrichment=False)

        placed, created = _apply(plan, window.articles)

        self.assertEqual((placed, created), (3, 1))
        self.assertEqual({topic_of(a) for a in launch}, {other.pk})
        self.assertEqual(len({topic_of(a) for a in fed} - {other.pk, None}), 1)
        # The topic planned for the story the other run placed is not kept empty.
        self.assertEqual(Topic.objects.count(), 2)

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


class EditorsAlwaysWinTests(TestCase):
    """Editors' decisions are constraints: neither placement nor the merge pass undoes them."""

    def recluster(self) -> None:
        # New copy of both stories arrives, so placement and the merge pass both run, twice.
        add(FED[2:], hours_ago=2)
        add(LAUNCH[1:], hours_ago=1.5)
        cluster_recent(NOW)
        cluster_recent(NOW + dt.timedelta(hours=1))

    def test_an_article_an_editor_moved_stays_where_it_was_put(self) -> None:
        fed = add(FED[:2], hours_ago=6)
        launch = add(LAUNCH[:1], hours_ago=6)
        fed_topic, launch_topic = make_topic(fed[:1]), make_topic(launch)
        # The editor filed the second Fed article under the launch story, and locked it there.
        fed[1].topic, fed[1].topic_locked = launch_topic, True
        fed[1].save()

        self.recluster()

        self.assertEqual(topic_of(fed[1]), launch_topic.pk)
        self.assertEqual(topic_of(fed[0]), fed_topic.pk)

    def test_topics_an_editor_merged_stay_merged_and_others_stay_out(self) -> None:
        fed, launch = add(FED[:2], hours_ago=6), add(LAUNCH[:1], hours_ago=6)
        merged = make_topic(fed + launch)
        emptied = make_topic([])
        Article.objects.filter(topic=merged).update(topic_locked=True)

        self.recluster()

        self.assertEqual({topic_of(a) for a in fed + launch}, {merged.pk})
        # The emptied topic is not revived: nothing is split back out of the editor's merge.
        self.assertFalse(Article.objects.filter(topic=emptied).exists())

    def test_a_story_an_editor_split_is_not_merged_back(self) -> None:
        fed = add(FED[:2], hours_ago=6)
        first, second = make_topic(fed[:1]), make_topic(fed[1:])
        Article.objects.filter(pk__in=[a.pk for a in fed]).update(topic_locked=True)

        self.recluster()

        self.assertEqual(topic_of(fed[0]), first.pk)
        self.assertEqual(topic_of(fed[1]), second.pk)
        # New copy may still join one side (the topics are not locked), but never both at once.
        self.assertEqual(Article.objects.filter(topic__in=[first, second]).count(), 3)

    def test_a_locked_topic_is_neither_merged_nor_merged_into(self) -> None:
        fed = add(FED[:1], hours_ago=6)
        locked = make_topic(fed, is_locked=True)
        twin = make_topic(add(FED[1:2], hours_ago=5))

        self.recluster()

        self.assertEqual(list(Article.objects.filter(topic=locked)), fed)
        self.assertEqual(Article.objects.filter(topic=twin).count(), 2)  # it took the new copy

    def test_young_topics_that_are_one_story_are_merged_into_the_oldest(self) -> None:
        # Two runs each opened a topic for the same story (say, the copy came in batches).
        first_fed, second_fed = add(FED[:1], hours_ago=6), add(FED[1:2], hours_ago=5)
        older, newer = make_topic(first_fed), make_topic(second_fed)
        cluster_id = older.cluster_id
        add(FED[2:], hours_ago=2)

        result = cluster_recent(NOW)

        self.assertEqual(result.merged, 1)
        self.assertEqual({topic_of(a) for a in first_fed + second_fed}, {older.pk})
        self.assertEqual(Topic.objects.get(pk=older.pk).cluster_id, cluster_id)
        # The emptied topic stays for digests that list it, flagged so enrichment empties it.
        self.assertIn(newer.pk, result.topic_ids)
        self.assertEqual(Article.objects.filter(topic=older).count(), 3)

    def test_young_topics_a_run_left_alone_are_not_merged(self) -> None:
        # Two young topics of one story, but this run only places another story: neither
        # topic changed, so there is nothing new to merge them on and they stay as they are.
        first_fed, second_fed = add(FED[:1], hours_ago=6), add(FED[1:2], hours_ago=5)
        older, newer = make_topic(first_fed), make_topic(second_fed)
        add(LAUNCH, hours_ago=2)

        result = cluster_recent(NOW)

        self.assertEqual(result.merged, 0)
        self.assertEqual(list(Article.objects.filter(topic=older)), first_fed)
        self.assertEqual(list(Article.objects.filter(topic=newer)), second_fed)

    def test_settled_topics_are_not_merged(self) -> None:
        old_fed = add(FED[:1], hours_ago=40)
        settled, young = make_topic(old_fed), make_topic(add(FED[1:2], hours_ago=30))
        add(LAUNCH, hours_ago=1)

        cluster_recent(NOW)

        # Both are older than a day, so the merge pass leaves them as readers saw them.
        self.assertEqual(Article.objects.filter(topic=settled).count(), 1)
        self.assertEqual(Article.objects.filter(topic=young).count(), 1)


class StableClusterIdTests(TestCase):
    def test_a_topic_keeps_its_cluster_id_through_runs_as_it_grows(self) -> None:
        first = add(FED[:1], hours_ago=9)
        cluster_recent(NOW - dt.timedelta(hours=8))
        topic = Topic.objects.get()
        seen = [topic.cluster_id]
        for n, hours_ago in ((1, 6), (2, 3)):
            add(FED[n : n + 1], hours_ago=hours_ago)
            add(LAUNCH[n - 1 : n], hours_ago=hours_ago)
            cluster_recent(NOW - dt.timedelta(hours=hours_ago - 1))
            seen.append(Topic.objects.get(pk=topic.pk).cluster_id)

        self.assertEqual(set(seen), {topic.cluster_id})
        self.assertEqual(Article.objects.filter(topic=topic).count(), 3)
        self.assertEqual(topic_of(first[0]), topic.pk)
        self.assertRegex(topic.cluster_id, r"^[0-9a-f]{10}$")

    def test_cluster_ids_come_from_the_founding_article_not_from_chance(self) -> None:
        source = make_source()
        make_article(source, identity="urn:a", title=FED[0][0], text=FED[0][1],
                     published_at=NOW - dt.timedelta(hours=1))  # fmt: skip
        cluster_recent(NOW)
        expected = hashlib.sha256(f"{source.pk}:urn:a".encode()).hexdigest()[:10]
        self.assertEqual(Topic.objects.get().cluster_id, expected)


def test_a_midnight_time_is_read_as_a_date_and_may_be_a_day_off() -> None:
    hours, slack = publication_hours(
        [dt.datetime(2026, 4, 21, tzinfo=dt.UTC), dt.datetime(2026, 4, 21, 9, 30, tzinfo=dt.UTC)]
    )
    assert hours[1] - hours[0] == 9.5
    assert list(slack) == [24.0, 0.0]


def crowd_window(filler_hours: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Two new articles at hours 100 and 100.5 with cosine 0.12 (between the quiet threshold
    and the crowded one), after settled articles that resemble nothing, at `filler_hours`."""
    count = len(filler_hours)
    pair = np.array([[0.12**0.5, 0.88**0.5, 0.0], [0.12**0.5, 0.0, 0.88**0.5]])
    vectors = sparse.block_diag([sparse.identity(count), sparse.csr_matrix(pair)]).tocsr()
    return vectors, np.concatenate([filler_hours, [100.0, 100.5]])


def test_the_threshold_holds_in_a_quiet_window_and_rises_in_a_crowded_one() -> None:
    new = np.array([480, 481])
    quiet = Times(crowd_window(np.linspace(0, 90, 480))[1], None, time_fade)
    # 480 articles in the six hours before: four times CROWD_REFERENCE, two doublings.
    crowded = Times(crowd_window(np.linspace(94.5, 99.9, 480))[1], None, time_fade)

    # Sixteen times: capped at two doublings (articles are counted, not stories).
    packed = Times(np.concatenate([np.linspace(94.5, 99.9, 1920), [100.0, 100.5]]), None, time_fade)
    new_packed = np.array([1920, 1921])

    assert crowded_threshold(quiet, new) == MERGE_THRESHOLD
    assert crowded_threshold(crowded, new) == pytest.approx(MERGE_THRESHOLD + 0.04, abs=1e-3)
    assert crowded_threshold(packed, new_packed) == pytest.approx(MERGE_THRESHOLD + 0.04)


def test_a_date_only_article_competes_with_the_articles_of_the_day_before() -> None:
    hours = np.concatenate([np.linspace(-23.5, -0.5, 480), [0.0]])
    slack = np.concatenate([np.zeros(480), [24.0]])
    # Timed, it would compete with the 6 hours before it; midnight may be any time that day.
    assert crowded_threshold(Times(hours, None, time_fade), np.array([480])) == MERGE_THRESHOLD
    assert crowded_threshold(Times(hours, slack, time_fade), np.array([480])) > MERGE_THRESHOLD


def test_a_loose_pair_joins_in_a_quiet_window_but_not_in_a_crowded_one() -> None:
    quiet_vectors, quiet_hours = crowd_window(np.linspace(0, 90, 480))
    crowded_vectors, crowded_hours = crowd_window(np.linspace(94.5, 99.9, 480))
    topic_of, is_new = [None] * 482, [False] * 480 + [True, True]

    quiet = plan_placement(quiet_vectors, quiet_hours, topic_of, is_new)
    crowded = plan_placement(crowded_vectors, crowded_hours, topic_of, is_new)

    assert quiet.groups == [[480, 481]]
    assert crowded.groups == [[480], [481]]


def test_placement_joins_a_group_to_the_existing_topic_it_resembles() -> None:
    docs = ["fed raises rates inflation", "fed rates inflation powell", "starship launch texas"]
    vectors = vectorize(docs, [""] * 3)
    plan = plan_placement(vectors, np.zeros(3), [7, None, None], [False, True, True])
    assert plan.joins == {7: [1]}
    assert plan.groups == [[2]]


def test_a_loose_match_a_day_apart_fades_but_a_close_follow_up_does_not() -> None:
    similarity = np.array([0.15, 0.15, 0.45, 0.45])
    faded = time_faded(similarity, np.array([2.0, 30.0, 2.0, 30.0]))
    # Within hours nothing fades; a day later only the close follow-up keeps most of its weight.
    assert list(faded[[0, 2]]) == [0.15, 0.45]
    assert faded[1] < 0.01
    assert faded[3] > 0.3


def test_a_pair_just_under_the_follow_up_bar_fades_in_between() -> None:
    gap = np.full(3, 30.0)
    loose, between, follow_up = time_fade(np.array([0.2, 0.285, 0.3]), gap)
    assert loose < between < follow_up
    # At the bar the follow-up fade holds in full.
    assert follow_up == pytest.approx(np.exp(-(30 - FOLLOW_UP_GRACE_HOURS) / FOLLOW_UP_DECAY_HOURS))


def test_the_fade_never_shrinks_as_similarity_grows_nor_grows_with_the_gap() -> None:
    # The placement bounds rely on both (topics.placement.Times).
    similarity, gap = np.meshgrid(np.linspace(0, 1, 101), np.linspace(0, 96, 97))
    fade = time_fade(similarity, gap)
    assert (fade <= 1).all()
    assert (np.diff(fade, axis=1) >= 0).all()
    assert (np.diff(fade, axis=0) <= 0).all()


def test_a_follow_up_a_day_later_joins_its_story_and_a_loose_match_does_not() -> None:
    titles = [
        "Sable River hits record low at Ashby, halting grain barges",
        "Waterways agency to dredge the Sable River at Ashby as barges stay halted",
        "Wheat prices climb as heat slows river traffic in Europe",
    ]
    vectors = vectorize(titles, [""] * 3)
    # The loose match would join the topic if it were published alongside it.
    assert plan_placement(vectors, np.zeros(3), [7, None, None], [False, False, True]).joins
    hours = np.array([0.0, 30.0, 60.0])
    plan = plan_placement(vectors, hours, [7, None, None], [False, True, True])
    assert plan.joins == {7: [1]}
    assert plan.groups == [[2]]


def test_placing_in_small_batches_keeps_clear_stories_together() -> None:
    titles, texts = zip(*(FED + LAUNCH + FOOTBALL), strict=True)
    vectors, hours = vectorize(list(titles), list(texts)), np.arange(len(titles), dtype=float)
    plan = plan_in_batches(vectors, hours, [None] * len(titles), [True] * len(titles), batch_size=2)
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
def test_basil_replayed_day_by_day_clusters_with_bcubed_f1_of_at_least_095(shared_data) -> None:
    path = shared_data / "clustering" / "basil.jsonl"
    if not path.exists():
        pytest.skip("basil.jsonl is not present")
    assert replay(path) >= 0.95


def _two_tight_stories_on_one_subject() -> sparse.csr_matrix:
    """Six articles: two stories of three that share a subject (cosine 0.19 across, 0.95 within)."""
    rows = np.zeros((6, 9))
    rows[:, 0] = 0.5  # the shared subject
    rows[:3, 1] = rows[3:, 2] = 1.0  # each story's own event
    rows[np.arange(6), np.arange(3, 9)] = 0.25  # each article's own wording
    return sparse.csr_matrix(normalize(rows))


def test_two_tight_stories_on_one_subject_stay_apart_though_similar_on_average() -> None:
    vectors = _two_tight_stories_on_one_subject()
    assert plan_placement(vectors, np.zeros(6), [None] * 6, [True] * 6).groups == [
        [0, 1, 2],
        [3, 4, 5],
    ]
    # The same holds when one story is already a topic.
    plan = plan_placement(
        vectors, np.zeros(6), [7, 7, 7, None, None, None], [False] * 3 + [True] * 3
    )
    assert (plan.joins, plan.groups) == ({}, [[3, 4, 5]])


def test_a_single_article_still_joins_a_tight_story_it_resembles() -> None:
    vectors = _two_tight_stories_on_one_subject()[[0, 1, 2, 3]]
    plan = plan_placement(vectors, np.zeros(4), [7, 7, 7, None], [False] * 3 + [True])
    # Its mean similarity (0.2) is far below the story's own (0.95), but one article has no
    # cohesion of its own to compare, so the plain threshold decides.
    assert plan.joins == {7: [3]}


def test_a_story_reported_over_days_stays_one_though_each_days_reports_are_tighter() -> None:
    """Six articles of one story, three a day two days apart (cosine 0.4 across, 0.9 within)."""
    rows = np.zeros((6, 9))
    rows[:, 0] = 0.4**0.5  # the story
    rows[:3, 1] = rows[3:, 2] = 0.5**0.5  # what each day added
    rows[np.arange(6), np.arange(3, 9)] = 0.1**0.5  # each article's own wording
    vectors = sparse.csr_matrix(rows)
    hours = np.array([0.0, 1.0, 2.0, 48.0, 49.0, 50.0])
    # Faded by two days, the mean across the days (0.19) is far under each day's own (0.9), but
    # before the fade it (0.4) is as close as only reports of one story come.
    assert plan_placement(vectors, hours, [None] * 6, [True] * 6).groups == [[0, 1, 2, 3, 4, 5]]
