"""The topic desk in the admin: filters, the card preview, and merge/split/move/pin as
two POSTs each, the first showing what will change and the second doing it."""

import datetime as dt

import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import TestCase
from django.urls import reverse

from tests.factories import make_article, make_source, make_topic
from topics.models import Article, Topic

NOW = dt.datetime(2026, 4, 21, 9, 0, tzinfo=dt.UTC)
TOPICS = reverse("admin:topics_topic_changelist")
ARTICLES = reverse("admin:topics_article_changelist")


@time_machine.travel(NOW, tick=False)
class TopicDeskTestCase(TestCase):
    def setUp(self) -> None:
        self.editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
        self.client.force_login(self.editor)
        self.wire, self.lab = make_source(name="Wire"), make_source(name="Lab")
        self.rates = self.topic("Fed raises rates", 2, score=5.0)
        self.launch = self.topic("Starship flies", 1, score=3.0)

    def topic(self, headline: str, articles: int, **fields: object) -> Topic:
        sources = [self.wire, self.lab]
        members = [
            make_article(sources[n % 2], title=f"{headline} ({n})", first_seen_at=NOW)
            for n in range(articles)
        ]
        count = {"article_count": articles, "source_count": min(articles, 2)}
        return make_topic(members, headline=headline, needs_enrichment=False, **count, **fields)

    def action(self, url: str, name: str, rows: list, **extra: str) -> object:
        data = {"action": name, "_selected_action": [row.pk for row in rows], **extra}
        return self.client.post(url, data, follow=True)


class TopicListTests(TopicDeskTestCase):
    def test_the_list_ranks_pinned_topics_first_then_by_score(self) -> None:
        Topic.objects.filter(pk=self.launch.pk).update(is_pinned=True)
        shown = list(self.client.get(TOPICS).context["cl"].result_list)
        self.assertEqual(shown, [self.launch, self.rates])

    def test_the_day_filter_keeps_topics_seen_that_day(self) -> None:
        old = self.topic("Last week's story", 1)
        Article.objects.filter(topic=old).update(first_seen_at=NOW - dt.timedelta(days=3))
        today = self.client.get(TOPICS + "?day=today").context["cl"].result_list
        self.assertEqual(set(today), {self.rates, self.launch})
        day = (NOW - dt.timedelta(days=3)).date().isoformat()
        self.assertEqual(
            list(self.client.get(f"{TOPICS}?day={day}").context["cl"].result_list), [old]
        )

    def test_category_and_importance_filters_narrow_the_list(self) -> None:
        Topic.objects.filter(pk=self.rates.pk).update(category="business", importance=4)
        for query in ("category=business", "importance=4"):
            with self.subTest(query=query):
                shown = self.client.get(f"{TOPICS}?{query}").context["cl"].result_list
                self.assertEqual(list(shown), [self.rates])

    def test_coverage_and_state_filters_narrow_the_list(self) -> None:
        Topic.objects.filter(pk=self.rates.pk).update(is_locked=True)
        cases = {"coverage=single": [self.launch], "coverage=some": [self.rates]}
        cases.update({"state=locked": [self.rates], "state=pinned": [], "state=new": [self.launch]})
        for query, expected in cases.items():
            with self.subTest(query=query):
                shown = self.client.get(f"{TOPICS}?{query}").context["cl"].result_list
                self.assertEqual(list(shown), expected)

    def test_the_change_page_previews_the_card_and_links_to_its_articles(self) -> None:
        Topic.objects.filter(pk=self.rates.pk).update(dek="A quarter point, again.")
        response = self.client.get(reverse("admin:topics_topic_change", args=[self.rates.pk]))
        self.assertContains(response, "A quarter point, again.")
        self.assertContains(response, "2 sources · 2 articles")
        self.assertContains(response, f"?topic__id__exact={self.rates.pk}")
        listed = self.client.get(f"{ARTICLES}?topic__id__exact={self.rates.pk}")
        self.assertEqual(len(listed.context["cl"].result_list), 2)


class MergeActionTests(TopicDeskTestCase):
    def test_the_first_post_only_shows_what_a_merge_would_change(self) -> None:
        response = self.action(TOPICS, "merge_selected", [self.rates, self.launch])
        self.assertContains(response, "Merge topics")
        self.assertContains(response, "1 article moves into it, 1 topic will be hidden")
        self.assertEqual(self.launch.articles.count(), 1)

    def test_confirming_merges_into_the_chosen_topic_and_logs_it(self) -> None:
        rows = [self.rates, self.launch]
        extra = {"confirm": "yes", "target": str(self.launch.pk)}
        response = self.action(TOPICS, "merge_selected", rows, **extra)
        self.assertContains(response, "Merged 2 topics into")
        self.assertEqual(Article.objects.filter(topic=self.launch).count(), 3)
        self.rates.refresh_from_db()
        self.assertTrue(self.rates.is_hidden)
        entry = LogEntry.objects.filter(object_id=str(self.launch.pk)).get()
        self.assertEqual(entry.user, self.editor)

    def test_the_decision_shows_in_the_topics_admin_history(self) -> None:
        rows = [self.rates, self.launch]
        self.action(TOPICS, "merge_selected", rows, confirm="yes", target=str(self.rates.pk))
        history = reverse("admin:topics_topic_history", args=[self.rates.pk])
        self.assertContains(self.client.get(history), f"Merged topics {self.launch.cluster_id}")

    def test_merging_one_topic_asks_for_more(self) -> None:
        response = self.action(TOPICS, "merge_selected", [self.rates])
        self.assertContains(response, "Select at least two topics to merge.")


class FlagActionTests(TopicDeskTestCase):
    def test_pin_hide_and_lock_actions_report_counts(self) -> None:
        cases = [("pin", "1 topic(s) pinned."), ("hide", "1 topic(s) hidden.")]
        cases += [("lock", "1 topic(s) locked."), ("unlock", "1 topic(s) unlocked.")]
        for name, message in cases:
            with self.subTest(action=name):
                self.assertContains(self.action(TOPICS, name, [self.launch]), message)
        self.launch.refresh_from_db()
        self.assertEqual((self.launch.is_pinned, self.launch.is_hidden), (True, True))
        self.assertEqual(LogEntry.objects.filter(object_id=str(self.launch.pk)).count(), 4)

    def test_a_boost_shows_in_the_importance_at_once(self) -> None:
        Topic.objects.filter(pk=self.rates.pk).update(importance=3, importance_max=3)
        url = reverse("admin:topics_topic_change", args=[self.rates.pk])
        form = self.client.get(url).context["adminform"].form
        data = {name: form[name].value() or "" for name in form.fields}
        data.update(importance_boost="1", tags="[]", edited_fields="[]", lead_article="")
        data.update({"articles-TOTAL_FORMS": "0", "articles-INITIAL_FORMS": "0"})
        self.assertEqual(
            self.client.post(url, {k: v for k, v in data.items() if v is not False}).status_code,
            302,
        )
        self.rates.refresh_from_db()
        self.assertEqual(self.rates.importance, 4)


class ArticleActionTests(TopicDeskTestCase):
    def test_splitting_shows_the_articles_then_makes_a_new_topic(self) -> None:
        article = self.rates.articles.order_by("pk").last()
        response = self.action(ARTICLES, "split_out", [article])
        self.assertContains(response, "will be recomputed without them")
        self.assertEqual(Topic.objects.count(), 2)
        response = self.action(ARTICLES, "split_out", [article], confirm="yes")
        article.refresh_from_db()
        self.assertNotIn(article.topic_id, {self.rates.pk, self.launch.pk})
        self.assertTrue(article.topic_locked)
        self.assertContains(response, "Split 1 article(s) out into")

    def test_moving_asks_for_a_target_then_moves_and_locks(self) -> None:
        article = self.rates.articles.order_by("pk").first()
        response = self.action(ARTICLES, "move_to_topic", [article])
        self.assertContains(response, self.launch.cluster_id)
        response = self.action(ARTICLES, "move_to_topic", [article], confirm="yes", target="nope")
        self.assertContains(response, "Choose a topic, or type its cluster id.")
        extra = {"confirm": "yes", "target": self.launch.cluster_id}
        response = self.action(ARTICLES, "move_to_topic", [article], **extra)
        self.assertContains(response, "Moved 1 article(s) to")
        article.refresh_from_db()
        self.assertEqual((article.topic_id, article.topic_locked), (self.launch.pk, True))

    def test_the_article_list_filters_by_day_and_source(self) -> None:
        # What the filter's "Today" link sends: an aware midnight.
        query = (
            f"?first_seen_at__gte={NOW.date()}T00:00:00%2B00:00&source__id__exact={self.wire.pk}"
        )
        response = self.client.get(ARTICLES + query)
        self.assertEqual(response.status_code, 200)
        self.assertEqual({a.source for a in response.context["cl"].result_list}, {self.wire})
