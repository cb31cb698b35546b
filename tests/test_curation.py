"""Editors' decisions (merge, split, move, pin, hide, lock) and their survival across the
pipeline: a later clustering run and enrichment must not undo them."""

import datetime as dt

import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import TestCase

from tests.factories import make_article, make_source
from topics import curation
from topics.curation import CurationError
from topics.models import Article, Topic
from topics.tasks import refresh_topics

NOW = dt.datetime(2026, 4, 21, 12, 0, tzinfo=dt.UTC)

FED = [
    "Federal Reserve raises interest rates by a quarter point as inflation persists",
    "Fed lifts interest rates a quarter point; Powell says inflation remains too high",
    "Powell's Federal Reserve raises interest rates again to fight stubborn inflation",
]
LAUNCH = [
    "SpaceX launches Starship rocket on second test flight from Texas",
    "Starship rocket reaches space on SpaceX's second test flight from Texas",
]
FOOTBALL = ["Arsenal beat Chelsea to go top of the Premier League table"]


@time_machine.travel(NOW, tick=False)
class CurationTestCase(TestCase):
    def setUp(self) -> None:
        self.editor = User.objects.create_user("editor", "editor@example.com", "pw")
        self.sources = [make_source(name=f"Wire {n}") for n in range(3)]

    def story(self, titles: list[str], hours_ago: int = 3) -> list[Article]:
        return [
            make_article(
                self.sources[n % 3],
                title=title,
                text=f"{title}. {title}.",
                published_at=NOW - dt.timedelta(hours=hours_ago, minutes=n),
                first_seen_at=NOW - dt.timedelta(hours=hours_ago, minutes=n),
            )
            for n, title in enumerate(titles)
        ]

    def clustered(self, *stories: list[str]) -> list[Topic]:
        """Run the real pipeline and return the topic of each story's first article."""
        firsts = [self.story(titles)[0] for titles in stories]
        refresh_topics()
        topics = [Topic.objects.get(articles=a) for a in firsts]
        self.assertEqual(len({t.pk for t in topics}), len(stories), "stories must cluster apart")
        return topics

    def history(self, obj: object) -> list[str]:
        entries = LogEntry.objects.filter(object_id=str(obj.pk)).order_by("pk")  # type: ignore[attr-defined]
        return [e.change_message for e in entries if e.content_type.model_class() is type(obj)]


class MergeTests(CurationTestCase):
    def test_merging_moves_every_article_into_the_target_and_retires_the_others(self) -> None:
        fed, launch = self.clustered(FED, LAUNCH)
        target = curation.merge_topics(fed.pk, [launch.pk], self.editor)
        self.assertEqual(target.articles.count(), 5)
        self.assertEqual((target.article_count, target.source_count), (5, 3))
        launch.refresh_from_db()
        self.assertEqual((launch.article_count, launch.is_hidden), (0, True))
        self.assertFalse(Topic.objects.visible().filter(pk=launch.pk).exists())
        # Every member is locked in place, the target's own included.
        self.assertFalse(target.articles.filter(topic_locked=False).exists())

    def test_a_merge_survives_a_later_clustering_run_and_enrichment(self) -> None:
        fed, launch = self.clustered(FED, LAUNCH)
        merged = set(Article.objects.filter(topic__in=[fed, launch]).values_list("pk", flat=True))
        curation.merge_topics(fed.pk, [launch.pk], self.editor)
        (late,) = self.story(["SpaceX Starship second test flight reaches space"], hours_ago=1)
        refresh_topics()
        launch.refresh_from_db()
        self.assertEqual(set(fed.articles.values_list("pk", flat=True)) - {late.pk}, merged)
        # The retired topic takes no new article: a later report joins the merged story.
        self.assertEqual((launch.articles.count(), launch.is_hidden), (0, True))
        late.refresh_from_db()
        self.assertEqual(late.topic_id, fed.pk)

    def test_the_target_keeps_the_best_score_until_the_next_ranking(self) -> None:
        fed, launch = self.clustered(FED, LAUNCH)
        Topic.objects.filter(pk=launch.pk).update(score=fed.score + 5)
        target = curation.merge_topics(fed.pk, [launch.pk], self.editor)
        self.assertEqual(target.score, fed.score + 5)

    def test_the_target_stays_pinned_if_any_merged_topic_was(self) -> None:
        fed, launch = self.clustered(FED, LAUNCH)
        curation.set_pinned([launch.pk], True, self.editor)
        target = curation.merge_topics(fed.pk, [launch.pk], self.editor)
        self.assertTrue(target.is_pinned)

    def test_the_preview_shows_what_a_merge_would_change_without_changing_it(self) -> None:
        fed, launch = self.clustered(FED, LAUNCH)
        preview = curation.preview_merge(fed.pk, [launch.pk, fed.pk])
        self.assertEqual((preview.target, preview.others), (fed, [launch]))
        self.assertEqual(preview.moved_articles, 2)
        self.assertEqual(launch.articles.count(), 2)

    def test_merging_a_topic_into_itself_is_refused(self) -> None:
        (fed,) = self.clustered(FED)
        with self.assertRaises(CurationError):
            curation.merge_topics(fed.pk, [fed.pk], self.editor)

    def test_a_merge_is_recorded_in_both_topics_history(self) -> None:
        fed, launch = self.clustered(FED, LAUNCH)
        curation.merge_topics(fed.pk, [launch.pk], self.editor)
        self.assertIn(f"Merged topics {launch.cluster_id}", self.history(fed)[0])
        self.assertIn(f"Merged into topic {fed.cluster_id}", self.history(launch)[0])


class SplitTests(CurationTestCase):
    def test_split_articles_form_a_new_topic_and_both_topics_are_re_enriched(self) -> None:
        (fed,) = self.clustered(FED)
        third = fed.articles.order_by("pk").last()
        topic = curation.split_articles([third.pk], self.editor)
        self.assertEqual(list(topic.articles.all()), [third])
        self.assertEqual((topic.article_count, topic.headline), (1, third.title))
        # Ranked beside the story it left until the next fetch round ranks it.
        self.assertEqual(topic.score, fed.score)
        fed.refresh_from_db()
        self.assertEqual(fed.article_count, 2)
        self.assertFalse(Topic.objects.filter(needs_enrichment=True).exists())

    def test_a_split_survives_a_later_clustering_run(self) -> None:
        (fed,) = self.clustered(FED)
        third = fed.articles.order_by("pk").last()
        topic = curation.split_articles([third.pk], self.editor)
        self.story(["Federal Reserve raises interest rates, Powell warns on inflation"], 1)
        refresh_topics()
        third.refresh_from_db()
        self.assertEqual((third.topic_id, third.topic_locked), (topic.pk, True))
        self.assertEqual(fed.articles.filter(topic_locked=False).count(), 2)

    def test_splitting_nothing_is_refused(self) -> None:
        with self.assertRaises(CurationError):
            curation.split_articles([], self.editor)


class MoveTests(CurationTestCase):
    def test_a_moved_article_stays_where_the_editor_put_it_after_re_clustering(self) -> None:
        fed, football = self.clustered(FED, FOOTBALL)
        article = fed.articles.order_by("pk").first()
        moved = curation.move_article(article.pk, football.pk, self.editor)
        self.assertEqual((moved.topic_id, moved.topic_locked), (football.pk, True))
        refresh_topics()
        moved.refresh_from_db()
        self.assertEqual(moved.topic_id, football.pk)
        football.refresh_from_db()
        fed.refresh_from_db()
        self.assertEqual((football.article_count, fed.article_count), (2, 2))
        self.assertIn("Moved to topic", self.history(moved)[0])


class FlagTests(CurationTestCase):
    def test_pin_hide_and_lock_count_only_topics_that_changed(self) -> None:
        fed, launch = self.clustered(FED, LAUNCH)
        self.assertEqual(curation.set_pinned([fed.pk], True, self.editor), 1)
        self.assertEqual(curation.set_pinned([fed.pk, launch.pk], True, self.editor), 1)
        self.assertEqual(curation.set_hidden([launch.pk], True, self.editor), 1)
        self.assertEqual(curation.set_locked([fed.pk], True, self.editor), 1)
        fed.refresh_from_db()
        launch.refresh_from_db()
        self.assertEqual((fed.is_pinned, fed.is_locked, launch.is_hidden), (True, True, True))
        self.assertEqual(self.history(launch), ["Pinned.", "Hidden."])

    def test_a_locked_topic_takes_no_new_articles(self) -> None:
        (fed,) = self.clustered(FED)
        curation.set_locked([fed.pk], True, self.editor)
        (late,) = self.story(["Federal Reserve raises interest rates by a quarter point"], 1)
        refresh_topics()
        late.refresh_from_db()
        self.assertNotEqual(late.topic_id, fed.pk)

    def test_a_pinned_topic_leads_the_ranking_after_a_refresh(self) -> None:
        _fed, football = self.clustered(FED, FOOTBALL)
        curation.set_pinned([football.pk], True, self.editor)
        refresh_topics()
        self.assertEqual(Topic.objects.visible().ranked().first(), football)

    def test_edits_and_decisions_by_scripts_are_not_logged_as_a_person(self) -> None:
        (fed,) = self.clustered(FED)
        curation.set_pinned([fed.pk], True, None)
        self.assertFalse(LogEntry.objects.exists())


class EditedFieldsTests(CurationTestCase):
    def test_an_edited_headline_survives_a_merge_and_re_enrichment(self) -> None:
        fed, launch = self.clustered(FED, LAUNCH)
        edited = {"headline": "Rates up again", "edited_fields": ["headline"]}
        Topic.objects.filter(pk=fed.pk).update(**edited)
        target = curation.merge_topics(fed.pk, [launch.pk], self.editor)
        self.assertEqual(target.headline, "Rates up again")
        refresh_topics()
        target.refresh_from_db()
        self.assertEqual(target.headline, "Rates up again")
