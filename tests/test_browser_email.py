"""The digest email as a reader's mail client draws it: Chromium at phone and desktop widths,
light and dark. Screenshots land in test-artifacts/ for a person to look at."""

import datetime as dt

import pytest
import time_machine

from newsletter import emails
from newsletter.digests import build_digest
from newsletter.models import Delivery
from tests.browser import ARTIFACTS, chromium, needs_chromium
from tests.factories import make_article, make_subscriber
from tests.news_day import make_news_day

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db,
    needs_chromium,
]


@pytest.fixture
def digest_html() -> str:
    """The demo digest as one reader receives it: yesterday's top story came back with
    new coverage, so today's email carries it as an update."""
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        [rates] = make_news_day(1)
        build_digest((NOW - dt.timedelta(days=1)).date())
    with time_machine.travel(NOW, tick=False):
        late = make_article(title="Banks pass the cut on to savers", first_seen_at=NOW)
        late.topic = rates
        late.save()
        rates.article_count += 1
        rates.source_count += 1
        rates.score = 2000
        rates.save()
        make_news_day(11, start=1)
        make_subscriber("reader@example.com")
        digest = build_digest(NOW.date())
        delivery = Delivery.objects.get(digest=digest)
        message = emails.message_for(delivery, emails.RenderedSegments(digest))
    [(html, _)] = message.alternatives
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "digest-email.html").write_text(html)
    (ARTIFACTS / "digest-email.txt").write_text(message.body)
    return html


@pytest.fixture
def account_emails() -> dict[str, str]:
    reader = make_subscriber("reader@example.com")
    messages = {
        "confirm": emails.confirm_message(reader),
        "preferences": emails.preferences_message(reader),
        "goodbye": emails.goodbye_message(reader),
    }
    return {name: message.alternatives[0][0] for name, message in messages.items()}


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(digest_html):
    # The email is rendered before the browser starts: Playwright's event loop in this
    # thread would make the ORM refuse to run.
    with chromium() as browser:
        yield browser.new_page()


def test_digest_fits_phone_and_desktop_widths_in_light_and_dark(page, digest_html):
    page.set_content(digest_html)
    assert page.get_by_role("heading", level=2).count() == 10
    assert "Updated: 1 new article, 1 new source" in page.locator("body").inner_text()
    for width in (375, 700):
        for scheme in ("light", "dark"):
            page.set_viewport_size({"width": width, "height": 900})
            page.emulate_media(color_scheme=scheme)
            # Nothing may force sideways scrolling, on a phone least of all.
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (width, scheme)
            path = ARTIFACTS / f"digest-email-{width}-{scheme}.png"
            page.screenshot(path=path, full_page=True)


def test_dark_mode_turns_the_page_dark_and_the_text_light(page, digest_html):
    page.emulate_media(color_scheme="dark")
    page.set_content(digest_html)
    headline = page.locator(".db-headline a").first
    # Computed colours: the dark-mode rules win over the inlined light ones.
    assert headline.evaluate("a => getComputedStyle(a).color") == "rgb(235, 235, 238)"
    card = page.locator(".db-card").first
    assert card.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(29, 31, 35)"


def test_the_account_emails_fit_a_phone_in_light_and_dark(account_emails, browser):
    page = browser.new_page(viewport={"width": 375, "height": 800})
    for name, html in account_emails.items():
        page.set_content(html)
        assert page.get_by_role("link").count() >= 1, name
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, name
            page.screenshot(path=ARTIFACTS / f"{name}-email-375-{scheme}.png", full_page=True)
