"""The morning routine end to end on the demo newsroom: feeds fetched and clustered for real,
an editor (not a superuser) curates through the admin, and everything survives the next
fetch round."""

import importlib

from django.apps import apps
from django.contrib.auth.models import Group, User
from django.test import LiveServerTestCase
from django.urls import reverse

from topics.demo.loading import load_demo
from topics.models import Article, Source, Topic
from topics.tasks import fetch_round

TOPICS = reverse("admin:topics_topic_changelist")
ARTICLES = reverse("admin:topics_article_changelist")


def editor_group() -> Group:
    """The group as its migration makes it (this test case's flushes empty the tables)."""
    importlib.import_module("newsletter.migrations.0002_editor_group").create_editor_group(
        apps, None
    )
    return Group.objects.get(name="Editor")


class DemoMorningTests(LiveServerTestCase):
    def setUp(self) -> None:
        load_demo(self.live_server_url)
        fetch_round()
        editor = User.objects.create_user("sam", "sam@example.com", "pw", is_staff=True)
        editor.groups.add(editor_group())
        self.client.force_login(editor)

    def action(self, url: str, name: str, pks: list[int], **extra: str) -> object:
        data = {"action": name, "_selected_action": pks, "confirm": "yes", **extra}
        response = self.client.post(url, data, follow=True)
        self.assertEqual(response.status_code, 200)
        return response

    def test_an_editors_decisions_survive_the_next_fetch_round(self) -> None:
        ranked = list(Topic.objects.visible().ranked())
        self.assertGreaterEqual(len(ranked), 4)
        keep, merged = ranked[0], ranked[1]
        merged_articles = set(merged.articles.values_list("pk", flat=True))
        self.action(TOPICS, "merge_selected", [keep.pk, merged.pk], target=str(keep.pk))

        big = max(ranked[2:], key=lambda t: t.article_count)
        split = big.articles.order_by("pk").last()
        self.action(ARTICLES, "split_out", [split.pk])
        split.refresh_from_db()
        quiet = ranked[-1]
        self.action(TOPICS, "pin", [quiet.pk])
        edited = self.client.post(
            reverse("admin:topics_topic_change", args=[keep.pk]),
            {**self.form_data(keep), "headline": "The editors' headline"},
        )
        self.assertEqual(edited.status_code, 302)
        preview = self.client.get(reverse("admin:newsletter_digest_today") + "?format=text")
        self.assertContains(preview, "The editors&#x27; headline")

        Source.objects.update(next_fetch_at=None)
        fetch_round()

        keep.refresh_from_db()
        self.assertEqual(keep.headline, "The editors' headline")
        self.assertTrue(merged_articles <= set(keep.articles.values_list("pk", flat=True)))
        self.assertFalse(Topic.objects.visible().filter(pk=merged.pk).exists())
        self.assertEqual(Article.objects.get(pk=split.pk).topic_id, split.topic_id)
        self.assertNotEqual(split.topic_id, big.pk)
        site = self.client.get(reverse("topics:index"))
        self.assertEqual(site.context["topics"][0], quiet)
        self.assertContains(site, "The editors&#x27; headline")

    def form_data(self, topic: Topic) -> dict[str, str]:
        """The change form as the browser would post it back unchanged."""
        response = self.client.get(reverse("admin:topics_topic_change", args=[topic.pk]))
        form = response.context["adminform"].form
        data = {name: form[name].value() for name in form.fields}
        # Unticked boxes are not posted (and 0 == False, hence "is").
        data = {
            k: "on" if v is True else v for k, v in data.items() if v is not None and v is not False
        }
        data["tags"] = form["tags"].field.prepare_value(form["tags"].value())
        data["edited_fields"] = form["edited_fields"].field.prepare_value(
            form["edited_fields"].value()
        )
        formset = response.context["inline_admin_formsets"][0].formset
        data.update(
            {f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()}
        )
        for n, inline in enumerate(formset.forms):
            data[f"{formset.prefix}-{n}-id"] = str(inline.instance.pk)
            data[f"{formset.prefix}-{n}-topic"] = str(topic.pk)
        return data
