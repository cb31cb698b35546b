"""The demo newsroom: its content, the feeds it serves, and load_demo."""

import datetime as dt
import re
from collections import defaultdict
from io import StringIO

import feedparser
import time_machine
from django.core.management import call_command
from django.test import LiveServerTestCase, TestCase
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Subscriber, SubscriberStatus
from tests.factories import make_source
from topics.demo.content import ARTICLES, SOURCES, SUBSCRIBERS, DemoArticle, articles_of
from topics.demo.feeds import GUID_PREFIX
from topics.demo.loading import demo_anchor, demo_sources, load_demo, update_demo_urls
from topics.models import Article, Kind, Relation, Source

LOADED_AT = dt.datetime(2026, 3, 10, 14, 30, tzinfo=dt.UTC)
SITE = "http://testserver"


def _stories() -> dict[str, list[DemoArticle]]:
    stories: dict[str, list[DemoArticle]] = defaultdict(list)
    for article in ARTICLES:
        stories[article.story].append(article)
    return stories


# A full stop, question or exclamation mark (maybe before a closing quote) that ends a
# sentence; "Dr." does not.
_SENTENCE_END = re.compile(r"(?<!Dr)[.!?]['\"]?(?:\s|$)")
_NOT_NAMES = {"The", "What", "Why", "How", "After", "Our", "Today", "Each", "Everyone"}


def _names(article: DemoArticle) -> set[str]:
    """Capitalised words (minus common sentence openers): the names articles can share."""
    words = re.findall(r"\b[A-Z][a-zA-Z0-9-]{2,}", f"{article.title} {article.summary}")
    return set(words) - _NOT_NAMES


class DemoContentTests(TestCase):
    def test_the_newsroom_has_six_or_more_sources_of_different_kinds(self) -> None:
        self.assertGreaterEqual(len(SOURCES), 6)
        kinds = {(source.relation, source.default_kind) for source in SOURCES}
        self.assertIn((Relation.FIRST_PARTY, Kind.ANNOUNCEMENT), kinds)
        self.assertIn((Relation.FIRST_PARTY, Kind.OPINION), kinds)
        self.assertIn((Relation.THIRD_PARTY, Kind.RESEARCH), kinds)
        self.assertIn((Relation.THIRD_PARTY, Kind.NEWS), kinds)
        self.assertEqual({source.feed_format for source in SOURCES}, {"rss", "atom"})

    def test_there_are_sixty_or_more_articles_about_twelve_or_more_stories_over_three_days(
        self,
    ) -> None:
        self.assertGreaterEqual(len(ARTICLES), 60)
        self.assertGreaterEqual(len(_stories()), 12)
        self.assertEqual({article.day for article in ARTICLES}, {0, -1, -2})

    def test_most_stories_have_several_sources_and_some_have_one(self) -> None:
        source_counts = [len({a.source for a in story}) for story in _stories().values()]
        multi = sum(count >= 2 for count in source_counts)
        self.assertGreater(multi, len(source_counts) / 2)
        self.assertGreaterEqual(source_counts.count(1), 2)
        self.assertGreaterEqual(max(source_counts), 5)

    def test_a_single_source_story_is_an_opinion_piece(self) -> None:
        opinion_sources = {s.slug for s in SOURCES if s.default_kind == Kind.OPINION}
        single = [story for story in _stories().values() if len({a.source for a in story}) == 1]
        self.assertTrue(any(story[0].source in opinion_sources for story in single))

    def test_the_articles_of_a_story_share_a_name(self) -> None:
        for key, story in _stories().items():
            shared = set.intersection(*(_names(article) for article in story))
            with self.subTest(story=key):
                self.assertTrue(shared, f"no name common to every article of {key}")

    def test_titles_within_a_story_are_worded_differently(self) -> None:
        titles = [article.title for article in ARTICLES]
        self.assertEqual(len(titles), len(set(titles)))

    def test_each_article_has_a_demo_source_and_a_two_to_four_sentence_summary(self) -> None:
        slugs = {source.slug for source in SOURCES}
        for article in ARTICLES:
            with self.subTest(article=article.title):
                self.assertIn(article.source, slugs)
                self.assertTrue(article.slug)
                self.assertIn(len(_SENTENCE_END.findall(article.summary)), (2, 3, 4))

    def test_articles_fall_inside_the_clustering_window_before_the_anchor(self) -> None:
        for article in ARTICLES:
            age = LOADED_AT - article.published_at(LOADED_AT)
            with self.subTest(article=article.title):
                self.assertGreater(age, dt.timedelta(0))
                self.assertLess(age, dt.timedelta(hours=66))

    def test_demo_subscribers_use_example_addresses(self) -> None:
        self.assertEqual(len(SUBSCRIBERS), 4)
        self.assertTrue(all(s.email.endswith("@example.com") for s in SUBSCRIBERS))


class DemoFeedTests(TestCase):
    def setUp(self) -> None:
        with time_machine.travel(LOADED_AT, tick=False):
            load_demo(SITE)

    def _parse(self, slug: str) -> feedparser.FeedParserDict:
        response = self.client.get(reverse("demo:feed", args=[slug]))
        self.assertEqual(response.status_code, 200)
        parsed = feedparser.parse(response.content)
        self.assertFalse(parsed.bozo, parsed.get("bozo_exception"))
        return parsed

    def test_every_source_is_served_as_a_feed_that_feedparser_reads(self) -> None:
        versions = set()
        for source in SOURCES:
            parsed = self._parse(source.slug)
            versions.add(parsed.version)
            self.assertEqual(parsed.feed.title, source.name)
            self.assertEqual(len(parsed.entries), len(articles_of(source.slug)))
        self.assertEqual(versions, {"rss20", "atom10"})

    def test_two_requests_give_the_same_guids_and_dates(self) -> None:
        for slug in ("northwire", "lumora-blog"):
            first, second = self._parse(slug), self._parse(slug)
            first_items = [(e.id, e.published_parsed, e.link) for e in first.entries]
            second_items = [(e.id, e.published_parsed, e.link) for e in second.entries]
            self.assertEqual(first_items, second_items)
            self.assertTrue(all(e.id.startswith(GUID_PREFIX) for e in first.entries))

    def test_dates_stay_relative_to_when_the_demo_was_loaded(self) -> None:
        # Hours later the feed still dates its newest item relative to the load time.
        with time_machine.travel(LOADED_AT + dt.timedelta(hours=5)):
            entry = self._parse("northwire").entries[0]
        newest = articles_of("northwire")[0]
        published = dt.datetime(*entry.published_parsed[:6], tzinfo=dt.UTC)
        self.assertEqual(published, newest.published_at(LOADED_AT))

    def test_entries_carry_title_summary_author_and_a_working_link(self) -> None:
        entry = self._parse("the-margin").entries[0]
        article = articles_of("the-margin")[0]
        self.assertEqual(entry.title, article.title)
        self.assertIn(article.summary[:40], entry.summary)
        self.assertEqual(entry.author, "Priya Castellanos")
        page = self.client.get(entry.link)
        self.assertContains(page, article.title)

    def test_an_unchanged_feed_answers_304_to_its_etag(self) -> None:
        url = reverse("demo:feed", args=["greenline"])
        etag = self.client.get(url)["ETag"]
        response = self.client.get(url, headers={"if-none-match": etag})
        self.assertEqual(response.status_code, 304)

    def test_an_unchanged_feed_answers_304_to_its_last_modified_alone(self) -> None:
        # A real load happens at some fraction of a second, which HTTP dates drop.
        demo_sources().update(created_at=LOADED_AT + dt.timedelta(milliseconds=250))
        url = reverse("demo:feed", args=["greenline"])
        modified = self.client.get(url)["Last-Modified"]
        response = self.client.get(url, headers={"if-modified-since": modified})
        self.assertEqual(response.status_code, 304)

    def test_an_unknown_source_is_404(self) -> None:
        self.assertEqual(self.client.get("/demo/feeds/nowhere.xml").status_code, 404)
        self.assertEqual(self.client.get("/demo/northwire/no-such-story/").status_code, 404)

    def test_the_newsroom_index_and_source_pages_list_their_content(self) -> None:
        self.assertContains(self.client.get(reverse("demo:index")), "Field &amp; Lab")
        page = self.client.get(reverse("demo:source", args=["kestrel-newsroom"]))
        for article in articles_of("kestrel-newsroom"):
            self.assertContains(page, article.title)


class LoadDemoTests(TestCase):
    def test_loading_creates_sources_pointing_at_this_site_and_confirmed_readers(self) -> None:
        result = load_demo("http://localhost:8123/")
        self.assertEqual(result.sources_created, len(SOURCES))
        self.assertEqual(result.subscribers_created, 4)
        wire = Source.objects.get(name="Northwire")
        self.assertEqual(wire.feed_url, "http://localhost:8123/demo/feeds/northwire.xml")
        self.assertEqual(wire.homepage_url, "http://localhost:8123/demo/northwire/")
        self.assertEqual(wire.weight, 1.5)
        margin = Source.objects.get(name__startswith="The Margin")
        self.assertEqual((margin.relation, margin.default_kind), ("first-party", "opinion"))
        self.assertEqual(Subscriber.objects.confirmed().count(), 4)
        self.assertFalse(Subscriber.objects.filter(confirmed_at=None).exists())

    def test_loading_twice_adds_nothing(self) -> None:
        load_demo(SITE)
        again = load_demo(SITE)
        self.assertEqual((again.sources_created, again.sources_updated), (0, 0))
        self.assertEqual(again.subscribers_created, 0)
        self.assertEqual(Source.objects.count(), len(SOURCES))
        self.assertEqual(Subscriber.objects.count(), 4)

    def test_loading_for_another_port_moves_the_feeds_and_keeps_editors_changes(self) -> None:
        load_demo("http://localhost:8000")
        Source.objects.filter(name="Greenline").update(weight=3.0, is_active=False)
        result = load_demo("http://localhost:9000")
        self.assertEqual((result.sources_created, result.sources_updated), (0, len(SOURCES)))
        greenline = Source.objects.get(name="Greenline")
        self.assertEqual(greenline.feed_url, "http://localhost:9000/demo/feeds/greenline.xml")
        self.assertEqual((greenline.weight, greenline.is_active), (3.0, False))

    def test_a_reader_who_unsubscribed_stays_unsubscribed(self) -> None:
        load_demo(SITE)
        Subscriber.objects.filter(email=SUBSCRIBERS[0].email).update(
            status=SubscriberStatus.UNSUBSCRIBED
        )
        load_demo(SITE)
        reader = Subscriber.objects.get(email=SUBSCRIBERS[0].email)
        self.assertEqual(reader.status, SubscriberStatus.UNSUBSCRIBED)

    def test_update_demo_urls_moves_only_demo_sources(self) -> None:
        load_demo("http://localhost:8000")
        other = make_source(feed_url="https://news.example.org/feed.xml")
        self.assertEqual(update_demo_urls("http://127.0.0.1:8001"), len(SOURCES))
        self.assertEqual(demo_sources().count(), len(SOURCES))
        other.refresh_from_db()
        self.assertEqual(other.feed_url, "https://news.example.org/feed.xml")

    def test_the_anchor_is_when_the_demo_was_first_loaded(self) -> None:
        with time_machine.travel(LOADED_AT, tick=False):
            load_demo(SITE)
        with time_machine.travel(LOADED_AT + dt.timedelta(days=1), tick=False):
            load_demo(SITE)
            self.assertEqual(demo_anchor(), LOADED_AT)

    def test_the_anchor_before_loading_is_the_start_of_today(self) -> None:
        with time_machine.travel(LOADED_AT, tick=False):
            anchor = demo_anchor()
        self.assertEqual(timezone.localtime(anchor).date(), timezone.localdate(LOADED_AT))
        self.assertEqual(timezone.localtime(anchor).time(), dt.time(0, 0))

    def test_the_command_reports_what_it_did(self) -> None:
        out = StringIO()
        call_command("load_demo", "--site-url", "http://localhost:8000", stdout=out)
        call_command("load_demo", "--site-url", "http://localhost:8000", stdout=out)
        self.assertIn(f"{len(SOURCES)} sources created", out.getvalue())
        self.assertIn("0 sources created, 0 moved", out.getvalue())


class DemoFetchTests(LiveServerTestCase):
    """Demo articles reach the database only through the real fetch path."""

    def test_fetching_the_demo_stores_every_article_once(self) -> None:
        from topics.fetching import fetch_due_sources

        load_demo(self.live_server_url)
        first = fetch_due_sources(timezone.now())
        self.assertEqual((first.fetched, first.failed), (len(SOURCES), 0))
        self.assertEqual(first.new_articles, len(ARTICLES))
        # Fetch again at once, however the fetcher schedules sources: nothing is new.
        Source.objects.update(next_fetch_at=None)
        second = fetch_due_sources(timezone.now())
        self.assertEqual(second.new_articles, 0)
        self.assertEqual(Article.objects.count(), len(ARTICLES))
        anchor = demo_anchor()
        newest = max(ARTICLES, key=lambda a: a.published_at(anchor))
        stored = Article.objects.get(title=newest.title)
        self.assertEqual(stored.published_at, newest.published_at(anchor).replace(microsecond=0))

    def test_clustering_the_fetched_demo_gives_one_topic_per_story(self) -> None:
        from topics.clustering import cluster_recent
        from topics.fetching import fetch_due_sources

        load_demo(self.live_server_url)
        fetch_due_sources(timezone.now())
        cluster_recent(timezone.now())
        story_of = {article.title: article.story for article in ARTICLES}
        topics_of_story: dict[str, set[int | None]] = defaultdict(set)
        stories_of_topic: dict[int | None, set[str]] = defaultdict(set)
        for title, topic_id in Article.objects.values_list("title", "topic_id"):
            topics_of_story[story_of[title]].add(topic_id)
            stories_of_topic[topic_id].add(story_of[title])
        split = {story: ids for story, ids in topics_of_story.items() if len(ids) != 1}
        mixed = {topic: stories for topic, stories in stories_of_topic.items() if len(stories) > 1}
        self.assertEqual((split, mixed), ({}, {}))
        self.assertNotIn(None, stories_of_topic)
