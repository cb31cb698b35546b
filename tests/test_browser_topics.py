"""What a person sees in a real browser: the index, a topic page, and both on a phone."""

import datetime as dt
import os

import pytest
from django.utils import timezone

from tests.browser import ARTIFACTS, chromium, needs_chromium
from tests.factories import make_article, make_source, make_topic
from topics.models import Category, Kind, Relation, Topic

# Playwright's sync API runs an event loop in this thread; the ORM calls the live
# server fixture makes around it are synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@pytest.fixture
def topic(transactional_db) -> Topic:
    """A two-source topic seen today, beside a lesser one."""
    now = timezone.now()
    lab = make_source(name="Example Lab blog", relation=Relation.FIRST_PARTY)
    wire = make_source(name="Example Wire")
    announcement = make_article(
        lab,
        title="Introducing Example Model 2",
        text="Example Lab says its new model halves the cost of long documents.",
        kind=Kind.ANNOUNCEMENT,
        published_at=now - dt.timedelta(hours=5),
        importance=3,
    )
    report = make_article(
        wire,
        title="Example Lab ships a cheaper model",
        text="Analysts say the price cut pressures rivals.",
        published_at=now - dt.timedelta(hours=2),
        importance=4,
    )
    make_topic(
        [make_article(wire, title="A smaller story")],
        headline="A smaller story",
        article_count=1,
        source_count=1,
        score=1.0,
    )
    return make_topic(
        [announcement, report],
        headline="Example Lab releases a cheaper long-context model",
        dek="The lab's second model costs half as much for long documents.",
        summary="Example Lab released Example Model 2, and reporters see a price war coming.",
        category=Category.TECHNOLOGY,
        primary_entity="Example Lab",
        tags=["Example Model 2", "Example Lab"],
        importance=4,
        importance_max=4,
        lead_article=announcement,
        article_count=2,
        source_count=2,
        earliest_at=announcement.published_at,
        latest_at=report.published_at,
        score=5.0,
    )


@pytest.fixture
def page(topic):
    # Data exists before the browser starts: the server thread sees committed rows.
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 1280, "height": 900})


def screenshot(page, name: str) -> None:
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)


def test_reader_opens_a_topic_from_the_index_and_goes_back(page, live_server, topic):
    page.goto(live_server.url + "/")

    cards = page.locator("article.card")
    assert cards.count() == 2
    first = cards.first
    assert first.get_by_role("heading", level=2).inner_text() == topic.headline
    assert "4/5" in first.inner_text()
    assert "2 sources" in first.inner_text()
    screenshot(page, "topic-index")

    first.get_by_role("link", name=topic.headline).click()

    page.wait_for_url(f"**{topic.get_absolute_url()}")
    assert page.get_by_role("heading", level=1).inner_text() == topic.headline
    assert "2 sources" in page.locator(".topic-head .meta").inner_text()
    timeline = page.locator(".timeline li.entry")
    assert timeline.count() == 2
    first_entry, second_entry = timeline.nth(0).inner_text(), timeline.nth(1).inner_text()
    assert "Example Lab blog first-party announcement · 5h ago · 3/5" in first_entry
    assert "Example Wire news · 2h ago · 4/5" in second_entry
    assert not page.get_by_role("heading", name="Debug").is_visible()
    screenshot(page, "topic-page")

    page.get_by_role("link", name="← Back to topics").click()

    page.wait_for_url(live_server.url + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Today's topics"


def test_topic_page_fits_a_phone_screen(page, live_server, topic):
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server.url + topic.get_absolute_url() + "?debug=1")

    # Nothing may force sideways scrolling on a phone, the long debug values included.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.get_by_role("heading", name="Debug").is_visible()
    page.screenshot(path=ARTIFACTS / "topic-page-debug-375.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=ARTIFACTS / "topic-page-debug-dark-375.png", full_page=True)


def test_topic_page_shows_every_element_of_the_card(page, live_server, topic):
    page.goto(live_server.url + topic.get_absolute_url() + "?debug=1")

    meta = page.locator(".topic-head .meta").inner_text()
    for badge in ["4", "technology", "Example Lab", "2 sources", "2 articles"]:
        assert badge in meta
    assert page.get_by_role("heading", level=1).inner_text() == topic.headline
    assert page.locator(".topic-head .dek").inner_text() == topic.dek
    assert page.locator(".lead-article .via").inner_text() == "via Example Lab blog"
    dive = page.locator("section.dive")
    assert "Let's dive in" in dive.get_by_role("heading", level=2).inner_text()
    assert topic.summary in dive.inner_text()
    lead_link = dive.get_by_role("link", name="Example Lab blog — Introducing Example Model 2")
    assert lead_link.get_attribute("href") == topic.lead_article.url

    timeline = page.locator(".timeline")
    assert "The timeline · 2 sources" in timeline.get_by_role("heading", level=2).inner_text()
    entry = timeline.locator("li.entry").first
    assert entry.locator(".entry-source").inner_text() == "Example Lab blog"
    assert "first-party announcement · 5h ago · 3/5" in entry.inner_text()
    assert entry.get_by_role("link").get_attribute("href") == topic.lead_article.url
    assert "halves the cost of long documents" in entry.locator(".entry-summary").inner_text()

    tags = page.locator("section.tags li")
    assert tags.all_inner_texts() == ["Example Model 2", "Example Lab"]

    debug = page.locator("section.debug").inner_text()
    for row in ["Cluster ID", "Importance (max)", "Members", "Sources", "Earliest", "Latest"]:
        assert row in debug
    assert topic.cluster_id in debug and topic.lead_article.url in debug
    screenshot(page, "topic-card-every-element")

    page.locator("section.tags").get_by_role("link", name="Example Model 2").click()

    page.wait_for_url("**/?tag=Example%20Model%202")
    assert page.locator("article.card").count() == 1
    assert "tagged Example Model 2" in page.locator(".filters").inner_text()
    screenshot(page, "topic-index-by-tag")


def test_reader_searches_from_the_header(page, live_server, topic):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Words to find").fill("cheaper model")
    page.get_by_role("button", name="Search").click()

    page.wait_for_url("**/search/?q=cheaper+model")
    cards = page.locator("article.card")
    assert cards.count() == 1
    assert cards.first.get_by_role("heading", level=2).inner_text() == topic.headline
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "topic-search")
