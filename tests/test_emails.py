import datetime as dt
import re

import pytest
import time_machine
from django.core import mail

from newsletter import emails, tokens
from newsletter.digests import build_digest
from newsletter.mjml import MJMLError, compile_mjml
from newsletter.models import Subscriber
from tests.factories import make_article, make_source, make_subscriber, make_topic

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
DAY = NOW.date()

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


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
    assert f"Lead coverage via Storm season Times: {low.lead_article.url}" in text
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
