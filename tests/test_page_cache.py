"""The public pages' cache (topics/pagecache.py): readers share one rendering per version,
and whatever changes a page (editors, clustering, edits) shows on the very next request."""

import datetime as dt
from unittest import mock

import time_machine
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import User
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache as django_cache_instance
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory, TestCase, override_settings
from django.urls import reverse
from django.utils.http import http_date

from tests.factories import make_article, make_source, make_topic
from topics import pagecache
from topics.models import Article, Topic
from topics.tasks import refresh_topics

NOW = dt.datetime(2026, 4, 21, 9, 0, tzinfo=dt.UTC)
INDEX = reverse("topics:index")
TOPICS_ADMIN = reverse("admin:topics_topic_changelist")


@time_machine.travel(NOW, tick=False)
class PageCacheTestCase(TestCase):
    def setUp(self) -> None:
        self.reader = Client()
        self.editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
        self.client.force_login(self.editor)
        self.wire = make_source(name="Wire")
        self.rates = self.topic("Fed raises rates", score=5.0)

    def topic(self, headline: str, **fields: object) -> Topic:
        article = make_article(self.wire, title=f"{headline} (wire)", first_seen_at=NOW)
        counts = {"article_count": 1, "source_count": 1, "needs_enrichment": False}
        return make_topic([article], headline=headline, **counts, **fields)

    def read(self, url: str, **headers: str) -> str:
        response = self.reader.get(url, headers=headers)
        self.assertEqual(response.status_code, 200)
        return response.content.decode()


class CachedReadsTests(PageCacheTestCase):
    def test_a_second_reader_gets_the_index_without_a_query(self) -> None:
        first = self.read(INDEX)
        with self.assertNumQueries(0):
            again = Client().get(INDEX)
        self.assertEqual(again.content.decode(), first)
        self.assertIn("Fed raises rates", first)

    def test_a_second_reader_gets_a_topic_page_without_a_query(self) -> None:
        first = self.read(self.rates.get_absolute_url())
        with self.assertNumQueries(0):
            again = Client().get(self.rates.get_absolute_url())
        self.assertEqual(again.content.decode(), first)

    def test_a_second_reader_gets_the_same_search_without_a_query(self) -> None:
        url = f"{reverse('topics:search')}?q=rates"
        first = self.read(url)
        with self.assertNumQueries(0):
            again = Client().get(url)
        self.assertEqual(again.content.decode(), first)
        self.assertIn("Fed raises rates", first)

    def test_a_new_topic_shows_in_a_search_read_before(self) -> None:
        url = f"{reverse('topics:search')}?q=flies"
        self.assertNotIn("Starship flies", self.read(url))
        self.topic("Starship flies")
        self.assertIn("Starship flies", self.read(url))

    def test_each_query_string_is_its_own_page(self) -> None:
        url = self.rates.get_absolute_url()
        self.assertNotIn("Debug</h2>", self.read(url))
        self.assertIn("Debug</h2>", self.read(f"{url}?debug=1"))
        self.assertNotIn("Debug</h2>", self.read(url))

    def test_the_index_turns_to_the_new_day_at_midnight(self) -> None:
        self.assertIn("Today's topics", self.read(INDEX))
        with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
            # Nothing yet on the new day: the page says so instead of yesterday's "Today".
            self.assertIn("Nothing new yet today", self.read(INDEX))

    @override_settings(DAYBRIEF_PAGE_CACHE_SECONDS=0)
    def test_a_zero_lifetime_turns_the_cache_off(self) -> None:
        self.read(INDEX)
        with self.assertNumQueries(6):  # the index's own queries, every time
            self.read(INDEX)


class ConditionalGetTests(PageCacheTestCase):
    def test_a_reader_with_the_current_etag_gets_a_304_without_a_query(self) -> None:
        etag = self.reader.get(INDEX)["ETag"]
        with self.assertNumQueries(0):
            response = self.reader.get(INDEX, headers={"If-None-Match": etag})
        self.assertEqual(response.status_code, 304)
        self.assertEqual(response.content, b"")

    def test_a_reader_whose_copy_is_not_older_gets_a_304(self) -> None:
        modified = self.reader.get(INDEX)["Last-Modified"]
        response = self.reader.get(INDEX, headers={"If-Modified-Since": modified})
        self.assertEqual(response.status_code, 304)

    def test_a_changed_page_answers_an_old_etag_with_the_new_page(self) -> None:
        etag = self.reader.get(INDEX)["ETag"]
        self.topic("Starship flies", score=9.0)
        response = self.reader.get(INDEX, headers={"If-None-Match": etag})
        self.assertEqual(response.status_code, 200)
        self.assertNotEqual(response["ETag"], etag)
        self.assertContains(response, "Starship flies")

    def test_pages_tell_browsers_to_check_back_each_time(self) -> None:
        response = self.reader.get(INDEX)
        self.assertEqual(response["Cache-Control"], "max-age=0, must-revalidate")
        self.assertEqual(response["Last-Modified"], http_date(NOW.timestamp()))


class WhoGetsTheCachedPageTests(PageCacheTestCase):
    def test_staff_see_a_hidden_topic_and_readers_still_do_not(self) -> None:
        Topic.objects.filter(pk=self.rates.pk).update(is_hidden=True)
        self.assertContains(self.client.get(self.rates.get_absolute_url()), "Hidden from readers")
        self.assertEqual(self.reader.get(self.rates.get_absolute_url()).status_code, 404)

    def test_a_readers_page_is_not_served_to_staff(self) -> None:
        self.read(self.rates.get_absolute_url())
        self.assertContains(self.client.get(self.rates.get_absolute_url()), "Debug</h2>")

    def test_the_topic_page_varies_by_cookie_and_the_index_sets_none(self) -> None:
        # Staff see more on a topic page: shared caches must key it by the session cookie.
        self.assertIn("Cookie", self.reader.get(self.rates.get_absolute_url())["Vary"])
        index = self.reader.get(INDEX)
        self.assertEqual(index.cookies, {})
        self.assertNotIn("Cookie", index.get("Vary", ""))

    def test_a_visitor_with_messages_waiting_gets_a_fresh_page(self) -> None:
        self.read(INDEX)
        self.reader.cookies[CookieStorage.cookie_name] = "waiting"
        with self.assertNumQueries(6):
            self.read(INDEX)

    def test_a_page_that_used_the_csrf_token_is_not_stored(self) -> None:
        request = RequestFactory().get(INDEX)
        get_token(request)  # what rendering a form does
        response = self.reader.get(INDEX)
        self.assertFalse(pagecache.may_store(request, response))
        self.assertTrue(pagecache.may_store(RequestFactory().get(INDEX), response))

    def test_a_page_that_showed_messages_is_not_stored(self) -> None:
        request = self.reader.get(INDEX).wsgi_request
        self.assertTrue(pagecache.may_store(request, self.reader.get(INDEX)))
        request._messages.used = True  # what iterating the messages in a template does
        self.assertFalse(pagecache.may_store(request, self.reader.get(INDEX)))


class ChangesShowAtOnceTests(PageCacheTestCase):
    def action(self, name: str, topics: list[Topic]) -> None:
        data = {"action": name, "_selected_action": [topic.pk for topic in topics]}
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(self.client.post(TOPICS_ADMIN, data).status_code, 302)

    def test_hiding_a_topic_in_the_admin_takes_it_off_the_index_and_its_page(self) -> None:
        self.assertIn("Fed raises rates", self.read(INDEX))
        self.read(self.rates.get_absolute_url())
        self.action("hide", [self.rates])
        self.assertNotIn("Fed raises rates", self.read(INDEX))
        self.assertEqual(self.reader.get(self.rates.get_absolute_url()).status_code, 404)

    def test_pinning_a_topic_in_the_admin_moves_it_up_the_index(self) -> None:
        launch = self.topic("Starship flies", score=1.0)
        html = self.read(INDEX)
        self.assertLess(html.index("Fed raises rates"), html.index("Starship flies"))
        self.action("pin", [launch])
        html = self.read(INDEX)
        self.assertLess(html.index("Starship flies"), html.index("Fed raises rates"))

    def test_an_editors_new_headline_shows_on_the_topic_page(self) -> None:
        self.read(self.rates.get_absolute_url())
        url = reverse("admin:topics_topic_change", args=[self.rates.pk])
        form = self.client.get(url).context["adminform"].form
        data = {name: form[name].value() or "" for name in form.fields}
        data.update(headline="Fed raises rates by half a point", tags="[]", edited_fields="[]")
        data.update({"articles-TOTAL_FORMS": "0", "articles-INITIAL_FORMS": "0"})
        data.update(lead_article="", importance_boost="0")
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(url, {k: v for k, v in data.items() if v is not False})
        self.assertEqual(response.status_code, 302)
        self.assertIn("Fed raises rates by half a point", self.read(self.rates.get_absolute_url()))

    def test_a_renamed_source_shows_on_the_topic_page(self) -> None:
        self.read(self.rates.get_absolute_url())
        self.wire.name = "Global Wire"
        with self.captureOnCommitCallbacks(execute=True):
            self.wire.save()
        self.assertIn("via Global Wire", self.read(self.rates.get_absolute_url()))

    def test_a_clustering_run_puts_new_stories_on_the_index(self) -> None:
        titles = ["SpaceX launches Starship on a test flight", "Starship test flight for SpaceX"]
        for n, title in enumerate(titles):
            seen = NOW - dt.timedelta(minutes=n + 1)
            make_article(make_source(name=f"Lab {n}"), title=title, text=title, first_seen_at=seen)
        # Fetched but not yet clustered: on no page, and the index is cached without them.
        self.assertNotIn("SpaceX", self.read(INDEX))
        with self.captureOnCommitCallbacks(execute=True):
            refresh_topics()
        self.assertEqual(Article.objects.filter(title__contains="SpaceX", topic=None).count(), 0)
        self.assertIn("SpaceX", self.read(INDEX))


class EarlyAnswerTests(PageCacheTestCase):
    """CachedPageMiddleware answers a reader's fresh page before the session and auth work."""

    def without_the_middleware(self, url: str) -> HttpResponse:
        middleware = [
            m for m in settings.MIDDLEWARE if m != "topics.pagecache.CachedPageMiddleware"
        ]
        with override_settings(MIDDLEWARE=middleware):
            return Client().get(url)

    def test_a_readers_cache_hit_skips_the_session_and_auth_middleware(self) -> None:
        self.read(INDEX)
        original = AuthenticationMiddleware.process_request
        with mock.patch.object(
            AuthenticationMiddleware, "process_request", autospec=True, side_effect=original
        ) as authenticate:
            self.read(INDEX)
            authenticate.assert_not_called()
            self.read(reverse("newsletter:subscribe"))  # not a cached page: the whole stack runs
            authenticate.assert_called_once()

    def test_the_early_answer_carries_the_headers_the_whole_stack_sends(self) -> None:
        for url in (INDEX, self.rates.get_absolute_url()):
            with self.subTest(url):
                self.read(url)
                early = Client().get(url)
                self.assertEqual(early.status_code, 200)
                self.assertEqual(
                    dict(early.headers), dict(self.without_the_middleware(url).headers)
                )

    @override_settings(ALLOWED_HOSTS=["testserver"])
    def test_a_host_outside_allowed_hosts_is_refused_even_for_a_cached_page(self) -> None:
        self.read(INDEX)
        self.assertEqual(Client().get(INDEX, headers={"Host": "evil.example"}).status_code, 400)

    def test_a_change_shows_in_a_process_that_served_the_old_page(self) -> None:
        self.read(INDEX)
        self.read(INDEX)  # now among this process's recent pages too
        with self.captureOnCommitCallbacks(execute=True):
            Topic.objects.filter(pk=self.rates.pk).update(headline="Fed lifts rates")
            pagecache.pages_changed()
        self.assertIn("Fed lifts rates", self.read(INDEX))

    def test_the_recent_pages_stay_few(self) -> None:
        urls = [INDEX, self.rates.get_absolute_url(), f"{INDEX}?page=1"]
        with mock.patch.object(pagecache, "RECENT_PAGES", 2):
            for url in urls * 2:
                self.read(url)
            self.assertLessEqual(len(pagecache._recent), 2)


class VersionTests(TestCase):
    def test_a_change_retires_pages_now_and_again_at_commit(self) -> None:
        before = pagecache.current_version()
        with self.captureOnCommitCallbacks(execute=True):
            pagecache.pages_changed()
            during = pagecache.current_version()
        # A page another process rendered from the old rows in between is retired too.
        self.assertNotIn(pagecache.current_version(), {before, during})
        self.assertNotEqual(during, before)

    def test_a_bulk_job_retires_pages_once_however_many_rows_it_changes(self) -> None:
        before = pagecache.current_version()
        with self.captureOnCommitCallbacks() as callbacks, pagecache.one_change_for_many():
            for n in range(5):
                make_source(name=f"Source {n}")
            self.assertEqual(pagecache.current_version(), before)
        self.assertNotEqual(pagecache.current_version(), before)
        self.assertEqual(callbacks.count(pagecache._new_version), 1)


class StampedeTests(PageCacheTestCase):
    """While one request renders a page afresh, the others answer with the newest copy."""

    def hold_rendering(self, url: str) -> None:
        request = RequestFactory().get(url)
        django_cache_instance.add(f"{pagecache.page_key(request)}:rendering", 1, 30)

    def test_a_page_past_its_lifetime_is_rendered_afresh_by_the_next_reader(self) -> None:
        self.read(INDEX)
        Topic.objects.filter(pk=self.rates.pk).update(headline="Fed lifts rates")  # no signal
        with time_machine.travel(NOW + dt.timedelta(seconds=61), tick=False):
            self.assertIn("Fed lifts rates", self.read(INDEX))

    def test_while_another_request_renders_a_stale_page_readers_get_the_old_copy(self) -> None:
        first = self.read(INDEX)
        Topic.objects.filter(pk=self.rates.pk).update(headline="Fed lifts rates")
        with time_machine.travel(NOW + dt.timedelta(seconds=61), tick=False):
            self.hold_rendering(INDEX)
            with self.assertNumQueries(0):
                self.assertEqual(self.read(INDEX), first)

    def test_after_a_change_readers_get_the_last_page_while_it_is_rendered(self) -> None:
        first = self.read(INDEX)
        pagecache.pages_changed()
        self.hold_rendering(INDEX)
        with self.assertNumQueries(0):
            self.assertEqual(self.read(INDEX), first)

    def test_with_no_copy_to_give_a_reader_renders_the_page_anyway(self) -> None:
        self.hold_rendering(INDEX)
        self.assertIn("Fed raises rates", self.read(INDEX))

    def test_a_change_shows_at_once_when_no_one_else_is_rendering(self) -> None:
        self.read(INDEX)
        Topic.objects.filter(pk=self.rates.pk).update(headline="Fed lifts rates")
        pagecache.pages_changed()
        self.assertIn("Fed lifts rates", self.read(INDEX))
