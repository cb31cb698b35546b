"""Security: headers and CSP on every page, CSRF on every form, a closed admin, hostile
feed content that never becomes script, and tokens that cannot be forged or reused."""

import datetime as dt
import re
from email.utils import format_datetime
from html.parser import HTMLParser

import django.contrib.admin
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from newsletter import digests, sending, tokens
from newsletter.models import Subscriber, SubscriberStatus
from tests.factories import make_article, make_source, make_subscriber, make_topic
from tests.feedserver import FeedServer
from topics import tasks as topic_tasks
from topics.models import Source, Topic


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block or what would run script."""

    def __init__(self, inline_styles: bool) -> None:
        super().__init__()
        self.inline_styles = inline_styles
        self.found: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.tags.add(tag)
        if tag == "script" and not names.get("src"):
            self.found.append("inline <script>")
        if tag == "style" and not self.inline_styles:
            self.found.append("inline <style>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if name == "style" and not self.inline_styles:
                self.found.append(f"style= on <{tag}>")
            link = (value or "").strip().lower()
            if name in {"href", "src", "action"} and link.startswith(SCRIPT_SCHEMES):
                self.found.append(f"{name}={value!r} on <{tag}>")


SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:text/html")


def tags(html: str) -> set[str]:
    """Every element name the browser would build from `html`."""
    parser = InlineCode(inline_styles=True)
    parser.feed(html)
    return parser.tags


def inline_code(html: str, inline_styles: bool = False) -> list[str]:
    parser = InlineCode(inline_styles)
    parser.feed(html)
    return parser.found


class SecurityTestCase(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.editor = User.objects.create_superuser("editor", "editor@example.com", "pw")
        cls.reader = make_subscriber("reader@example.com", status=SubscriberStatus.PENDING)
        source = make_source()
        now = timezone.now()
        cls.topic = make_topic(
            [make_article(source), make_article(source)],
            headline="Harbour",
            article_count=2,
            earliest_at=now,
            latest_at=now,
        )
        cls.digest = digests.build_digest(timezone.localdate())

    def public_pages(self) -> list[str]:
        confirm = tokens.make_token(tokens.CONFIRM, self.reader.pk)
        unsubscribe = tokens.make_token(tokens.UNSUBSCRIBE, self.reader.pk)
        return [
            reverse("topics:index"),
            self.topic.get_absolute_url(),
            reverse("newsletter:subscribe"),
            reverse("newsletter:subscribe_pending"),
            reverse("newsletter:confirm", args=[confirm]),
            reverse("newsletter:unsubscribe", args=[unsubscribe]),
            reverse("newsletter:archive", args=[self.digest.date.isoformat()]),
            "/healthz",
        ]

    def admin_pages(self) -> list[str]:
        pages = [reverse("admin:index"), reverse("admin:password_change"), reverse("outbox_index")]
        for model in django.contrib.admin.site._registry:
            meta = model._meta
            pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        pages.append(reverse("admin:topics_topic_change", args=[self.topic.pk]))
        return pages


class HeaderTests(SecurityTestCase):
    def test_every_public_page_sends_the_security_headers(self) -> None:
        # Twice: a page of the page cache is rendered first, then answered from the cache.
        for url in self.public_pages() * 2:
            with self.subTest(url):
                response = self.client.get(url)
                self.assertLess(response.status_code, 400)
                self.assertEqual(response["Content-Security-Policy"], self.policy())
                self.assertEqual(response["X-Content-Type-Options"], "nosniff")
                self.assertEqual(response["X-Frame-Options"], "DENY")
                self.assertEqual(response["Referrer-Policy"], "same-origin")
                self.assertEqual(response["Cross-Origin-Opener-Policy"], "same-origin")

    def test_the_admin_login_page_sends_the_headers_too(self) -> None:
        response = self.client.get(reverse("admin:login"))
        self.assertIn("script-src 'self';", response["Content-Security-Policy"])
        self.assertEqual(response["X-Frame-Options"], "DENY")

    def test_the_policy_allows_only_first_party_script_and_no_framing(self) -> None:
        policy = self.client.get("/")["Content-Security-Policy"]
        self.assertIn("script-src 'self';", policy)
        self.assertIn("frame-ancestors 'none'", policy)
        self.assertIn("object-src 'none'", policy)
        self.assertNotIn("unsafe-inline", policy)

    def test_public_pages_carry_nothing_inline_that_the_policy_blocks(self) -> None:
        for url in self.public_pages():
            with self.subTest(url):
                html = self.client.get(url).content.decode()
                self.assertEqual(inline_code(html), [])

    def test_admin_pages_carry_nothing_inline_that_the_policy_blocks(self) -> None:
        self.client.force_login(self.editor)
        for url in self.admin_pages():
            with self.subTest(url):
                # The digest schedule's list opens its one row.
                response = self.client.get(url, follow=True)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(inline_code(response.content.decode(), inline_styles=True), [])

    def test_the_admin_may_style_inline_but_runs_only_first_party_script(self) -> None:
        self.client.force_login(self.editor)
        policy = self.client.get(reverse("admin:index"))["Content-Security-Policy"]
        self.assertIn("style-src 'self' 'unsafe-inline';", policy)
        self.assertIn("script-src 'self';", policy)

    def test_hsts_and_secure_cookies_follow_an_https_site_url_in_production(self) -> None:
        with override_settings(
            SECURE_HSTS_SECONDS=31_536_000, SECURE_SSL_REDIRECT=True, SECURE_HSTS_PRELOAD=True
        ):
            response = self.client.get("/", secure=True)
            self.assertEqual(
                response["Strict-Transport-Security"],
                "max-age=31536000; includeSubDomains; preload",
            )
            # Plain http goes to https, except the probes a load balancer sends.
            self.assertEqual(self.client.get("/").status_code, 301)
            self.assertEqual(self.client.get("/healthz").status_code, 200)

    def policy(self) -> str:
        return "; ".join(" ".join([k, *v]) for k, v in settings.DAYBRIEF_CSP.items())


class CsrfTests(SecurityTestCase):
    def setUp(self) -> None:
        self.client = Client(enforce_csrf_checks=True)

    def test_every_public_form_refuses_a_post_without_the_csrf_token(self) -> None:
        confirm = tokens.make_token(tokens.CONFIRM, self.reader.pk)
        forms = {
            reverse("newsletter:subscribe"): {"email": "x@example.com", "name": ""},
            reverse("newsletter:confirm", args=[confirm]): {},
            reverse("admin:login"): {"username": "editor", "password": "pw"},
        }
        for url, data in forms.items():
            with self.subTest(url):
                self.assertEqual(self.client.post(url, data).status_code, 403)
        self.reader.refresh_from_db()
        self.assertEqual(self.reader.status, SubscriberStatus.PENDING)
        self.assertFalse(Subscriber.objects.filter(email="x@example.com").exists())
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_unsubscribe_is_the_one_csrf_exempt_form_and_its_token_guards_it(self) -> None:
        # RFC 8058 one-click: mail clients POST List-Unsubscribe-Post without a cookie, so
        # the signed per-reader token is the protection; a made-up one changes nothing.
        forged = reverse("newsletter:unsubscribe", args=["MQ:forged:signature"])
        self.assertNotEqual(self.client.post(forged, {"confirm": "yes"}).status_code, 403)
        self.reader.refresh_from_db()
        self.assertEqual(self.reader.status, SubscriberStatus.PENDING)

    def test_every_form_we_render_carries_the_csrf_token(self) -> None:
        for url in self.public_pages():
            html = self.client.get(url).content.decode()
            for form in re.findall(r"<form\b.*?</form>", html, re.S):
                one_click = "/unsubscribe/" in form  # exempt on purpose, see above
                if re.search(r'method="post"', form, re.I) and not one_click:
                    with self.subTest(url):
                        self.assertIn('name="csrfmiddlewaretoken"', form)

    def test_the_admin_refuses_a_post_without_the_csrf_token(self) -> None:
        self.client.force_login(self.editor)
        url = reverse("admin:topics_topic_change", args=[self.topic.pk])
        self.assertEqual(self.client.post(url, {"headline": "Defaced"}).status_code, 403)
        self.topic.refresh_from_db()
        self.assertEqual(self.topic.headline, "Harbour")


class AdminAccessTests(SecurityTestCase):
    def test_the_admin_sends_anonymous_visitors_to_the_login_page(self) -> None:
        for url in self.admin_pages():
            with self.subTest(url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 302)
                self.assertIn(reverse("admin:login"), response["Location"])

    def test_the_admin_refuses_a_logged_in_reader_who_is_not_staff(self) -> None:
        User.objects.create_user("outsider", "outsider@example.com", "pw")
        self.client.login(username="outsider", password="pw")
        response = self.client.get(reverse("admin:index"))
        self.assertEqual(response.status_code, 302)


class TokenTests(SecurityTestCase):
    def test_a_token_signed_with_another_key_is_refused(self) -> None:
        with override_settings(SECRET_KEY="not-the-site-key-" * 4):
            forged = tokens.make_token(tokens.UNSUBSCRIBE, self.reader.pk)
        self.assertIsNone(tokens.read_token(tokens.UNSUBSCRIBE, forged))
        response = self.client.post(reverse("newsletter:unsubscribe", args=[forged]))
        self.assertNotEqual(response.status_code, 302)
        self.reader.refresh_from_db()
        self.assertNotEqual(self.reader.status, SubscriberStatus.UNSUBSCRIBED)

    def test_a_token_edited_to_name_another_subscriber_is_refused(self) -> None:
        other = make_subscriber("other@example.com")
        token = tokens.make_token(tokens.UNSUBSCRIBE, self.reader.pk)
        _, rest = token.split(":", 1)
        own_value = tokens.make_token(tokens.UNSUBSCRIBE, other.pk).split(":", 1)[0]
        self.assertIsNone(tokens.read_token(tokens.UNSUBSCRIBE, f"{own_value}:{rest}"))

    def test_a_confirm_token_cannot_unsubscribe_and_an_unsubscribe_token_cannot_confirm(
        self,
    ) -> None:
        confirm = tokens.make_token(tokens.CONFIRM, self.reader.pk)
        unsubscribe = tokens.make_token(tokens.UNSUBSCRIBE, self.reader.pk)
        self.assertIsNone(tokens.read_token(tokens.UNSUBSCRIBE, confirm))
        self.assertIsNone(tokens.read_token(tokens.CONFIRM, unsubscribe))

    def test_one_readers_token_acts_only_on_that_reader(self) -> None:
        other = make_subscriber("other@example.com")
        token = tokens.make_token(tokens.UNSUBSCRIBE, self.reader.pk)
        self.client.post(reverse("newsletter:unsubscribe", args=[token]))
        other.refresh_from_db()
        self.assertEqual(other.status, SubscriberStatus.CONFIRMED)

    def test_a_confirm_token_expires(self) -> None:
        token = tokens.make_token(tokens.CONFIRM, self.reader.pk)
        later = timezone.now() + tokens.CONFIRM_MAX_AGE + dt.timedelta(minutes=1)
        import time_machine

        with time_machine.travel(later):
            self.assertIsNone(tokens.read_token(tokens.CONFIRM, token))


HOSTILE_ITEMS = [
    (
        '&lt;script&gt;alert("title")&lt;/script&gt; Port of Velmara strike halts traffic',
        '<![CDATA[<p onclick="alert(1)">Dock workers at the Port of Velmara struck.</p>'
        '<script>alert("body")</script><img src="x" onerror="alert(2)">'
        '<a href="javascript:alert(3)">more</a><iframe src="https://evil.example/"></iframe>'
        "<style>body{display:none}</style>]]>",
        "javascript:alert(4)",
    ),
    (
        "Velmara dock strike: ships queue &lt;img src=x onerror=alert(5)&gt;",
        "<![CDATA[<svg onload=alert(6)></svg>The strike at the Port of Velmara stranded ships.]]>",
        "https://daily.example.com/strike",
    ),
]


def hostile_rss(now: dt.datetime) -> str:
    items = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>urn:hostile:{n}</guid>"
        f"<description>{body}</description><pubDate>{format_datetime(now)}</pubDate></item>"
        for n, (title, body, link) in enumerate(HOSTILE_ITEMS)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Evil</title>'
        f"<link>https://evil.example/</link><description>x</description>{items}</channel></rss>"
    )


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
class HostileFeedTests(TestCase):
    def test_hostile_feed_content_reaches_no_page_or_email_as_script(self) -> None:
        User.objects.create_superuser("editor", "editor@example.com", "pw")
        make_subscriber("reader@example.com")
        with FeedServer() as server:
            server.route(
                "/evil.xml",
                hostile_rss(timezone.now()),
                headers={"Content-Type": "application/rss+xml"},
            )
            Source.objects.create(name="Evil", feed_url=server.url("/evil.xml"))
            summary = topic_tasks.fetch_round()
        self.assertEqual(summary["new_articles"], 2)
        topics = list(Topic.objects.visible())
        self.assertTrue(topics)

        pages = [reverse("topics:index"), *(t.get_absolute_url() for t in topics)]
        for url in pages:
            with self.subTest(url):
                html = self.client.get(url).content.decode()
                self.assertIn("Velmara", html)  # the story itself got through
                self.assertEqual(inline_code(html), [])
                self.assertNotIn("script", tags(html))
        self.client.login(username="editor", password="pw")
        for url in ["/admin/topics/article/", "/admin/topics/topic/"]:
            html = self.client.get(url).content.decode()
            self.assertEqual(inline_code(html, inline_styles=True), [], url)

        digest = digests.build_digest(timezone.localdate())
        self.assertEqual(sending.send_digest(digest.pk).sent, 1)
        (message,) = mail.outbox
        html = message.alternatives[0][0]
        self.assertIn("Velmara", html)
        # Emails style inline (mail clients need it) but never carry script.
        self.assertEqual(inline_code(html, inline_styles=True), [])
        self.assertNotIn("script", tags(html))
        # The title's markup is shown as text: escaped in HTML, verbatim in the text part.
        self.assertIn("&lt;script&gt;", html)
