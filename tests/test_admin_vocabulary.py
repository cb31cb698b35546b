"""Editors keep the category list and the tag vocabulary in the admin."""

from django.contrib.auth.models import User
from django.test import TestCase
from django.urls import reverse

from tests.factories import make_article, make_topic
from topics.enrichment import enrich_topics
from topics.models import Tag, TopicCategory


class VocabularyAdminTests(TestCase):
    def setUp(self) -> None:
        editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
        self.client.force_login(editor)

    def test_the_seeded_categories_are_listed_in_order(self) -> None:
        html = self.client.get(reverse("admin:topics_topiccategory_changelist")).content.decode()
        # The data migration seeds the default list.
        self.assertLess(html.index("Business"), html.index("Sports"))

    def test_an_alias_an_editor_adds_spells_the_tag_on_the_next_enrichment(self) -> None:
        response = self.client.post(
            reverse("admin:topics_tag_add"), {"name": "Gemini", "aliases": "Gemini 3, Bard"}
        )
        self.assertEqual(response.status_code, 302)
        text = "Gemini 3 tops the index. Gemini 3 is from Google, and Gemini 3 ships today."
        topic = make_topic([make_article(title="Index results", text=text)])
        enrich_topics([topic.pk])
        topic.refresh_from_db()
        self.assertIn("Gemini", [topic.primary_entity, *topic.tags])
        self.assertEqual(Tag.objects.get().alias_list, ["Gemini 3", "Bard"])

    def test_a_category_can_be_switched_off(self) -> None:
        sports = TopicCategory.objects.get(slug="sports")
        url = reverse("admin:topics_topiccategory_change", args=[sports.pk])
        data = {
            "name": "Sports", "slug": "sports", "keywords": sports.keywords, "position": 8,
        }  # fmt: skip
        self.assertEqual(self.client.post(url, data).status_code, 302)
        sports.refresh_from_db()
        self.assertFalse(sports.is_active)
