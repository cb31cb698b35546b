import datetime as dt
import email as email_parser
import email.policy
import re
from html import unescape
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.test import Client

from newsletter import emails, tokens
from newsletter.digests import build_digest
from newsletter.mjml import MAX_LINE_BYTES, MJMLError, break_long_lines, compile_mjml
from newsletter.models import Delivery, DeliveryStatus, Subscriber
from newsletter.segments import Segment
from tests.factories import make_article, make_source, make_subscriber, make_topic
from tests.news_day import make_news_day

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
DAY = NOW.date()

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def make_story(headline: str, score: float, **fields: object):
    source = make_source(name=f"{headline} Times")
    article = make_article(source=source, title=f"{headline}: the report")
    defaults: dict[str, object] = {
        "headline": headline,
        "dek": f"What {headline} means.",
        "score": score,
        "importance": 3,
        "category": "business",
        "article_count": 1,
        "source_count": 1,
        "lead_article": article,
        "tags": ["ChatGPT", "Claude"],
    }
    defaults.update(fields)
    return make_topic([article], **defaults)


def html_part(message: mail.EmailMultiAlternatives) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def digest_message_for(subscriber: Subscriber) -> mail.EmailMultiAlternatives:
    digest = build_digest(DAY)
    return emails.digest_message(emails.render_digest(digest), subscriber)


def test_digest_subject_names_the_day_the_top_story_and_how_many_more():
    make_story("Rates cut", score=9)
    make_story("Chip export rules", score=5)
    make_story("Storm season", score=1)
    message = digest_message_for(make_subscriber())
    assert message.subject == "Daybrief for Thu 26 Nov: Rates cut and 2 more"


def test_digest_text_part_lists_cards_in_ranked_order_with_absolute_links():
    low = make_story("Storm season", score=1)
    top = make_story("Rates cut", score=9, importance=4, primary_entity="Central Bank")
    message = digest_message_for(make_subscriber())
    text = message.body
    assert text.index("1. Rates cut") < text.index("2. Storm season")
    assert "4/5 · business · Central Bank · single-source · 1 article" in text
    assert f"Read more: http://localhost:8000/topics/{top.cluster_id}/" in text
    lead = f"Lead coverage: Storm season Times — Storm season: the report\n  {low.lead_article.url}"
    assert lead in text
    assert "Tags: ChatGPT, Claude" in text
    assert "View in your browser: http://localhost:8000/digests/2026-11-26/" in text
    assert "Daybrief, 1 Example Street, Example City" in text


def test_digest_html_part_has_the_cards_preheader_dark_mode_and_footer():
    make_story("Rates & cuts", score=9, dek="Borrowing gets <cheaper>.")
    make_story("Storm season", score=1)
    html = html_part(digest_message_for(make_subscriber()))
    assert html.index("Rates &amp; cuts") < html.index("Storm season")
    # Feed text is escaped, never markup.
    assert "Borrowing gets &lt;cheaper&gt;." in html
    assert '<meta name="color-scheme" content="light dark"' in html
    assert "prefers-color-scheme: dark" in html
    assert "font-size:16px" in html
    assert re.search(r'<div style="display:none;[^"]*">Rates &amp; cuts · Storm season', html)
    assert "View in your browser" in html
    assert "Daybrief, 1 Example Street, Example City" in html


def test_every_link_in_the_digest_html_is_absolute():
    make_story("Rates cut", score=9)
    html = html_part(digest_message_for(make_subscriber()))
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs
    assert all(href.startswith(("http://", "https://")) for href in hrefs), hrefs


def test_each_recipient_gets_their_own_unsubscribe_link_in_body_and_headers():
    make_story("Rates cut", score=9)
    alice, bob = make_subscriber("alice@example.com"), make_subscriber("bob@example.com")
    email = emails.render_digest(build_digest(DAY))
    to_alice = emails.digest_message(email, alice)
    to_bob = emails.digest_message(email, bob)

    header = to_alice.extra_headers["List-Unsubscribe"]
    url = re.search(r"<(http://localhost:8000/unsubscribe/[^>]+/)>", header)[1]
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert tokens.read_token(tokens.UNSUBSCRIBE, token) == alice.pk
    assert to_alice.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe with one click: {url}" in to_alice.body
    assert f'href="{url}"' in html_part(to_alice)
    assert url not in to_bob.body
    assert emails.UNSUBSCRIBE_PLACEHOLDER not in to_alice.body + html_part(to_alice)


def test_list_unsubscribe_adds_a_mailto_when_configured(settings):
    settings.UNSUBSCRIBE_MAILTO = "leave@daybrief.example"
    make_story("Rates cut", score=9)
    header = digest_message_for(make_subscriber()).extra_headers["List-Unsubscribe"]
    assert re.fullmatch(
        r"<http://localhost:8000/unsubscribe/\S+/>, "
        r"<mailto:leave@daybrief\.example\?subject=unsubscribe%20\S+>",
        header,
    )


def test_list_unsubscribe_is_https_only_without_a_mailto():
    make_story("Rates cut", score=9)
    header = digest_message_for(make_subscriber()).extra_headers["List-Unsubscribe"]
    assert "mailto:" not in header


def test_digest_of_a_day_without_stories_says_so():
    email = emails.render_digest(build_digest(DAY))
    assert email.subject == "Daybrief for Thu 26 Nov: no new stories"
    assert "No new stories today." in email.text
    assert "No new stories today." in email.html


def test_a_full_digest_stays_under_the_gmail_clipping_budget(settings):
    for n in range(settings.DAYBRIEF_DIGEST_MAX_TOPICS):
        make_story(f"Story number {n} with a realistically long headline", score=n, dek="x" * 200)
    html = html_part(digest_message_for(make_subscriber()))
    # Gmail clips around 102 KB; leave room for link rewriting by an ESP.
    assert len(html.encode()) < 90_000


def test_confirmation_email_links_to_a_signed_confirm_page_and_never_echoes_the_name():
    subscriber = make_subscriber(name="<b>Spam me</b> http://evil.example", status="pending")
    message = emails.confirm_message(subscriber)
    assert message.subject == "Confirm your Daybrief subscription"
    url = re.search(r"http://localhost:8000/confirm/\S+/", message.body)[0]
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert tokens.read_token(tokens.CONFIRM, token) == subscriber.pk
    assert url in html_part(message)
    assert "Spam me" not in message.body + html_part(message)
    assert "List-Unsubscribe" not in message.extra_headers


def test_goodbye_email_offers_a_way_back():
    message = emails.goodbye_message(make_subscriber())
    assert message.subject == "You have left Daybrief"
    assert "http://localhost:8000/subscribe/" in message.body
    assert 'href="http://localhost:8000/subscribe/"' in html_part(message)


def test_text_parts_are_not_html_escaped():
    make_story('Q&A: rates "cut"', score=9)
    message = digest_message_for(make_subscriber())
    assert 'Q&A: rates "cut"' in message.subject
    assert 'Q&A: rates "cut"' in message.body


def test_broken_mjml_names_its_template():
    with pytest.raises(MJMLError, match=r"emails/x/body\.mjml"):
        compile_mjml("<mjml><mj-body>", name="emails/x/body.mjml")


# --- Every email, whatever the day ---------------------------------------------

SITE = "http://localhost:8000/"
LEAKS = re.compile(r"\{\{|\}\}|\{%|%\}|</?mj-|__DAYBRIEF_\w+__")


def every_email(subscriber: Subscriber) -> dict[str, mail.EmailMultiAlternatives]:
    digest = build_digest(DAY)
    rendered = emails.RenderedSegments(digest)
    delivery = Delivery.objects.get(digest=digest, subscriber=subscriber)
    return {
        "digest": emails.message_for(delivery, rendered),
        "confirm": emails.confirm_message(subscriber),
        "preferences": emails.preferences_message(subscriber),
        "goodbye": emails.goodbye_message(subscriber),
    }


def assert_links_are_absolute_and_work(html: str, text: str) -> None:
    client = Client()
    hrefs = {unescape(href) for href in re.findall(r'href="([^"]*)"', html)}
    assert hrefs
    for href in hrefs:
        assert href.startswith((SITE, "https://example.com/")), href
        # The text part offers the same links, except the site's home.
        assert href in text or href == SITE, href
        if not href.startswith(SITE):
            continue
        path = href.removeprefix(SITE[:-1])
        if path.startswith("/preferences/"):
            # The preferences page is another part's work; its token must be valid.
            token = path.split("/")[2]
            assert tokens.read_token(tokens.PREFERENCES, token) is not None
            continue
        assert client.get(path).status_code == 200, path


def assert_headers_right(message: mail.EmailMultiAlternatives, kind: str, to: str) -> None:
    raw = message.message().as_bytes()
    parsed = email_parser.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"] == to
    assert parsed["From"] == "Daybrief <digest@daybrief.localhost>"
    assert "\n" not in parsed["Subject"]
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in parsed.walk() if not part.is_multipart()]
    assert parts == ["text/plain", "text/html"]
    # Short lines keep the HTML 8bit: quoted-printable would add a fifth to its size.
    html_mime = next(part for part in parsed.walk() if part.get_content_type() == "text/html")
    assert html_mime["Content-Transfer-Encoding"] == "8bit"
    if kind == "digest":
        assert parsed["List-Unsubscribe"].strip().startswith(f"<{SITE}unsubscribe/")
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert parsed["List-Id"] == "Daybrief digest <digest.daybrief.localhost>"
        assert parsed["Message-ID"].endswith("@daybrief.localhost>")
    else:
        assert parsed["List-Unsubscribe"] is None


@pytest.mark.parametrize("topic_count", [0, 1, 12, 60])
def test_every_email_renders_whole_and_correct_on_any_day(topic_count):
    make_news_day(topic_count, now=NOW)
    subscriber = make_subscriber("reader@example.com")
    for kind, message in every_email(subscriber).items():
        html = html_part(message)
        assert message.body.strip() and html.strip(), kind
        assert len(html.encode()) < 90_000, kind
        for part in (message.subject, message.body, html):
            assert not LEAKS.search(part), (kind, LEAKS.search(part))
        assert "Daybrief, 1 Example Street, Example City" in message.body + html
        assert_links_are_absolute_and_work(html, message.body)
        assert_headers_right(message, kind, "reader@example.com")


@pytest.mark.parametrize("topic_count", [0, 1, 12, 60])
def test_the_digest_header_counts_the_days_stories(topic_count):
    make_news_day(topic_count, now=NOW)
    message = every_email(make_subscriber())["digest"]
    shown = min(topic_count, 10)
    if topic_count == 0:
        assert "A quiet day" in message.body
    elif shown == topic_count:
        assert f"{shown} stor" in message.body
        assert "more stor" not in message.body
    else:
        assert f"{shown} stories of today's {topic_count}, most important first" in message.body
        more = f"{topic_count - shown} more stories today on the web"
        assert more in message.body
        assert more in html_part(message)
    assert "Thursday 26 November 2026" in message.body
    assert html_part(message).count('class="db-headline"') == shown


def test_the_heaviest_possible_day_still_fits_under_the_clipping_size(settings):
    settings.DAYBRIEF_DIGEST_MAX_TOPICS = 100
    for n in range(40):
        sources = [make_source(name=f"The Example Evening Chronicle {n}-{k}") for k in range(8)]
        articles = [make_article(s, title="A long article title " * 10) for s in sources]
        make_topic(
            articles,
            headline="A very long headline that keeps going " * 10,
            dek="An overlong dek with many words in it. " * 30,
            score=n,
            importance=5,
            category="business",
            primary_entity="Example Holdings International",
            article_count=8,
            source_count=8,
            lead_article=articles[0],
            tags=[f"A rather long tag {i}" for i in range(20)],
        )
    subscriber = make_subscriber(max_topics=100)
    message = every_email(subscriber)["digest"]
    html = html_part(message)
    assert len(html.encode()) < 90_000
    # The hard cap: twenty cards at most, the rest behind the web link.
    assert html.count('class="db-headline"') == 20
    assert "20 more stories today on the web" in message.body


def test_cards_move_to_the_web_link_when_the_html_would_not_fit(monkeypatch):
    make_news_day(10, now=NOW)
    full = emails.render_digest(build_digest(DAY))
    monkeypatch.setattr(emails, "HTML_BUDGET", len(full.html.encode()))
    trimmed = emails.render_digest(build_digest(DAY))
    assert len(trimmed.html.encode()) + emails.PERSONAL_LINKS_ROOM <= emails.HTML_BUDGET
    assert trimmed.html.count('class="db-headline"') < 10
    assert "more stor" in trimmed.text


# --- Segments ------------------------------------------------------------------------


def test_readers_with_the_same_preferences_share_one_compiled_body():
    make_news_day(12, now=NOW)
    alike = [make_subscriber(categories=["business"], min_importance=2) for _ in range(3)]
    other = make_subscriber(max_topics=3)
    digest = build_digest(DAY)
    rendered = emails.RenderedSegments(digest)
    deliveries = Delivery.objects.filter(digest=digest).select_related("subscriber")
    with mock.patch.object(emails, "compile_mjml", wraps=emails.compile_mjml) as compile_mjml:
        messages = {d.subscriber: emails.message_for(d, rendered) for d in deliveries}
    assert compile_mjml.call_count == 2
    # Only the reader's own links differ.
    assert len({without_own_links(messages[s], s) for s in alike}) == 1
    assert html_part(messages[other]).count('class="db-headline"') == 3


def without_own_links(message: mail.EmailMultiAlternatives, reader: Subscriber) -> str:
    html = html_part(message)
    for url in (tokens.unsubscribe_url(reader), emails.preferences_url(reader)):
        assert url in html
        html = html.replace(url, "")
    return html


def test_a_reader_gets_only_the_categories_and_importance_they_chose():
    make_news_day(12, now=NOW)
    reader = make_subscriber(categories=["technology", "business"], min_importance=3)
    message = every_email(reader)["digest"]
    text = message.body
    cards = re.findall(r"^\d+/5 · (\w+)", text, flags=re.M)
    assert cards == ["business", "technology", "business"]
    assert "Central bank cuts rates" in message.subject
    assert "and 2 more" in message.subject


def test_segment_keys_are_canonical_and_round_trip():
    segment = Segment(("business", "science"), 3, 5)
    assert segment.key == "business+science/3/5"
    assert Segment.from_key(segment.key) == segment
    assert Segment.from_key("all/1/10") == Segment((), 1, 10)


def test_equivalent_preferences_land_in_one_segment(settings):
    settings.DAYBRIEF_DIGEST_MAX_TOPICS = 12
    make_news_day(3, now=NOW)
    make_subscriber(categories=["Science", "business"], max_topics=40)
    make_subscriber(categories=["business", "science", "science"], max_topics=12)
    keys = set(Delivery.objects.filter(digest=build_digest(DAY)).values_list("segment", flat=True))
    assert keys == {"business+science/1/12"}


def test_a_reader_whose_preferences_pick_nothing_today_is_skipped():
    make_news_day(3, now=NOW)
    picky = make_subscriber(categories=["sports"])
    delivery = Delivery.objects.get(digest=build_digest(DAY), subscriber=picky)
    assert delivery.status == DeliveryStatus.SKIPPED
    assert "preferences" in delivery.error


def test_each_digest_carries_the_readers_own_preferences_link():
    make_story("Rates cut", score=9)
    alice, bob = make_subscriber("alice@example.com"), make_subscriber("bob@example.com")
    rendered = emails.RenderedSegments(build_digest(DAY))
    to_alice = emails.message_for(Delivery.objects.get(subscriber=alice), rendered)
    to_bob = emails.message_for(Delivery.objects.get(subscriber=bob), rendered)
    url = re.search(r"Manage your preferences: (\S+)", to_alice.body)[1]
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert tokens.read_token(tokens.PREFERENCES, token) == alice.pk
    assert f'href="{url}"' in html_part(to_alice)
    assert url not in to_bob.body + html_part(to_bob)


def test_the_preferences_email_sends_the_readers_signed_link():
    reader = make_subscriber("reader@example.com")
    message = emails.preferences_message(reader)
    assert message.subject == "Your Daybrief preferences link"
    url = re.search(r"http://localhost:8000/\S*preferences/\S+/", message.body)[0]
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert tokens.read_token(tokens.PREFERENCES, token) == reader.pk
    assert url in html_part(message)


def test_updated_stories_say_what_is_new():
    yesterday = DAY - dt.timedelta(days=1)
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        topic = make_story("Rates cut", score=9, article_count=2, source_count=2)
        build_digest(yesterday)
    topic.article_count, topic.source_count = 5, 3
    topic.save()
    make_article(topic=topic)
    message = digest_message_for(make_subscriber())
    assert "Updated: 3 new articles, 1 new source since we last sent it." in message.body
    assert "1 update to stories you have seen" in message.body
    assert "Updated: 3 new articles, 1 new source" in html_part(message)


def test_digest_html_inlines_its_critical_styles_and_loads_no_web_fonts():
    make_story("Rates cut", score=9)
    html = html_part(digest_message_for(make_subscriber()))
    headline = re.search(r'<h2 class="db-headline" style="([^"]*)"', html)[1]
    assert "font-size:22px" in headline
    assert "fonts.googleapis.com" not in html
    # Every image, should a template ever add one, describes itself.
    assert all("alt=" in img for img in re.findall(r"<img[^>]*>", html))


def test_lead_coverage_names_the_source_and_skips_a_title_that_repeats_the_headline():
    make_story("Rates cut", score=9)
    echo = make_story("Storm season", score=1)
    echo.lead_article.title = "Storm  Season"
    echo.lead_article.save()
    text = digest_message_for(make_subscriber()).body
    assert "Lead coverage: Rates cut Times — Rates cut: the report\n  https://" in text
    assert f"Lead coverage: Storm season Times\n  {echo.lead_article.url}" in text


def test_long_html_lines_are_broken_only_where_the_page_looks_the_same():
    html = "<div>" + "word " * 400 + "</div>" + "<table><tr><td>x</td></tr></table>" * 50
    broken = break_long_lines(html)
    assert max(len(line.encode()) for line in broken.split("\n")) <= MAX_LINE_BYTES
    # Newlines went in before tags, or in place of spaces in text: nothing else changed.
    assert re.sub(r"\n(?=<)", "", broken).replace("\n", " ") == html
