"""The Editor group (created by a migration): an editor who is not a superuser can do the
morning routine and nothing they should not."""

import datetime as dt

import time_machine
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from newsletter.models import Delivery, Digest, DigestTopic, Subscriber
from tests.factories import make_article, make_source, make_subscriber, make_topic
from topics.models import Article, Topic

NOW = dt.datetime(2026, 4, 21, 7, 0, tzinfo=dt.UTC)
TOPICS = reverse("admin:topics_topic_changelist")
ARTICLES = reverse("admin:topics_article_changelist")


@time_machine.travel(NOW, tick=False)
class EditorTestCase(TestCase):
    def setUp(self) -> None:
        self.editor = User.objects.create_user("editor", "ed@example.com", "pw", is_staff=True)
        self.editor.groups.add(Group.objects.get(name="Editor"))
        self.client.force_login(self.editor)
        source = make_source(name="Wire")
        self.a = make_topic([make_article(source, title="A one")], headline="A", article_count=1)
        self.b = make_topic([make_article(source, title="B one")], headline="B", article_count=1)
        self.reader = make_subscriber("ada@example.com")

    def action(self, url: str, name: str, rows: list, **extra: str) -> object:
        data = {"action": name, "_selected_action": [row.pk for row in rows], **extra}
        return self.client.post(url, data, follow=True)


class EditorCanTests(EditorTestCase):
    def test_the_group_holds_exactly_the_routines_permissions(self) -> None:
        codenames = set(
            Group.objects.get(name="Editor").permissions.values_list("codename", flat=True)
        )
        self.assertTrue(
            {"change_topic", "change_article", "add_source", "view_delivery"} <= codenames
        )
        self.assertFalse([c for c in codenames if c.startswith("delete_")])
        self.assertNotIn("change_delivery", codenames)

    def test_an_editor_opens_the_dashboard_and_every_list_of_the_routine(self) -> None:
        names = ["topics_topic", "topics_article", "topics_source", "newsletter_subscriber",
                 "newsletter_digest", "newsletter_delivery", "newsletter_readeremail"]  # fmt: skip
        self.assertContains(self.client.get(reverse("admin:index")), "This morning")
        for name in names:
            with self.subTest(page=name):
                self.assertEqual(
                    self.client.get(reverse(f"admin:{name}_changelist")).status_code, 200
                )

    def test_an_editor_merges_splits_moves_and_pins(self) -> None:
        self.action(
            TOPICS, "merge_selected", [self.a, self.b], confirm="yes", target=str(self.a.pk)
        )
        self.assertEqual(Article.objects.filter(topic=self.a).count(), 2)
        article = Article.objects.get(title="B one")
        self.action(ARTICLES, "split_out", [article], confirm="yes")
        article.refresh_from_db()
        new = article.topic
        self.assertNotIn(new.pk, {self.a.pk, self.b.pk})
        extra = {"confirm": "yes", "target": self.a.cluster_id}
        self.action(ARTICLES, "move_to_topic", [article], **extra)
        self.action(TOPICS, "pin", [self.a])
        self.a.refresh_from_db()
        self.assertTrue(self.a.is_pinned)
        self.assertEqual(Article.objects.filter(topic=self.a).count(), 2)

    def test_an_editor_edits_a_headline(self) -> None:
        url = reverse("admin:topics_topic_change", args=[self.a.pk])
        self.assertContains(self.client.get(url), 'name="headline"')

    def test_an_editor_previews_tests_and_sends_a_digest(self) -> None:
        digest = Digest.objects.create(date=NOW.date(), subject="Daybrief")
        DigestTopic.objects.create(digest=digest, topic=self.a, position=1)
        Delivery.objects.create(digest=digest, subscriber=self.reader)
        preview = self.client.get(reverse("admin:newsletter_digest_preview", args=[digest.pk]))
        self.assertEqual(preview.status_code, 200)
        control = reverse("admin:newsletter_digest_control", args=[digest.pk])
        self.assertContains(
            self.client.post(control, {"operation": "send"}, follow=True), "Sending"
        )
        self.assertEqual(Delivery.objects.get().status, "sent")

    def test_an_editor_imports_readers(self) -> None:
        upload = SimpleUploadedFile("list.csv", b"email\nbob@example.com\n")
        self.client.post(reverse("admin:newsletter_subscriber_import"), {"file": upload})
        self.assertTrue(Subscriber.objects.filter(email="bob@example.com").exists())


class EditorCannotTests(EditorTestCase):
    def test_an_editor_deletes_nothing(self) -> None:
        for obj in (self.a, self.reader, Article.objects.first()):
            opts = obj._meta
            with self.subTest(model=opts.model_name):
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
                self.assertEqual(self.client.post(url, {"post": "yes"}).status_code, 403)
        self.assertTrue(Topic.objects.filter(pk=self.a.pk).exists())
        self.assertNotContains(self.client.get(TOPICS), "delete_selected")

    def test_an_editor_manages_no_users_and_builds_no_digests_by_hand(self) -> None:
        for name in (
            "admin:auth_user_changelist",
            "admin:auth_group_changelist",
            "admin:newsletter_digest_add",
            "admin:topics_topic_add",
        ):
            with self.subTest(page=name):
                self.assertEqual(self.client.get(reverse(name)).status_code, 403)

    def test_someone_outside_the_group_cannot_curate(self) -> None:
        self.editor.groups.clear()
        response = self.action(TOPICS, "pin", [self.a])
        self.assertEqual(response.status_code, 403)
        self.a.refresh_from_db()
        self.assertFalse(self.a.is_pinned)
