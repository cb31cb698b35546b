"""An editor's morning in a real browser: log in, merge two topics, split an article out,
pin a topic, preview the digest, schedule it, change the daily time, and see it all on the
public site."""

import datetime as dt
import importlib
import os

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from newsletter import schedules
from tests.browser import ARTIFACTS, chromium, needs_chromium
from tests.factories import make_article, make_source, make_subscriber, make_topic
from topics.models import Topic

PASSWORD = "a long editor password"

# Playwright's sync API runs an event loop in this thread; the ORM calls the live server
# fixture makes around it are synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


def editor_group() -> Group:
    """The group as the migration makes it (a transactional test's flush may have emptied
    the tables since migrate ran)."""
    from django.apps import apps

    importlib.import_module("newsletter.migrations.0002_editor_group").create_editor_group(
        apps, None
    )
    importlib.import_module(
        "newsletter.migrations.0003_digest_schedule"
    ).grant_schedule_permissions(apps, None)
    return Group.objects.get(name="Editor")


@pytest.fixture
def newsroom(transactional_db) -> dict[str, Topic]:
    now = timezone.now()
    wire, post, lab = (make_source(name=name) for name in ("Wire", "Post", "Lab"))

    def topic(headline: str, titles: list[tuple[object, str]], score: float) -> Topic:
        members = [
            make_article(source, title=title, text=f"{title}.", first_seen_at=now,
                         published_at=now - dt.timedelta(hours=1 + n))
            for n, (source, title) in enumerate(titles)
        ]  # fmt: skip
        return make_topic(
            members, headline=headline, article_count=len(members), score=score,
            source_count=len({s for s, _ in titles}), lead_article=members[0],
        )  # fmt: skip

    rates = topic("Fed raises rates", [(wire, "Fed raises rates")], 9.0)
    rates_too = topic("Powell lifts rates again", [(post, "Powell lifts rates again")], 8.0)
    launch = topic(
        "Starship reaches orbit",
        [(lab, "Starship reaches orbit"), (wire, "Arsenal go top of the league")],
        7.0,
    )
    quiet = topic("Library opens late", [(post, "Library opens late")], 1.0)
    user = User.objects.create_user("sam", "sam@example.com", PASSWORD, is_staff=True)
    user.groups.add(editor_group())
    make_subscriber("ada@example.com")
    schedules.register_schedules()  # as after migrate, which the flush undid
    return {"rates": rates, "rates_too": rates_too, "launch": launch, "quiet": quiet}


@pytest.fixture
def page(newsroom):
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 1280, "height": 900})


def shot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"admin-{name}.png", full_page=True)


def run_action(page, label: str, *pks: int) -> None:
    for pk in pks:
        page.check(f'input[name="_selected_action"][value="{pk}"]')
    page.select_option('select[name="action"]', label=label)
    page.get_by_role("button", name="Go").click()


def test_an_editors_morning_shows_on_the_public_site(page, live_server, newsroom):
    rates, rates_too, launch, quiet = (
        newsroom[k] for k in ("rates", "rates_too", "launch", "quiet")
    )
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.locator("#dashboard").is_visible()
    assert "Today's topics (4)" in page.locator("#dashboard").inner_text()
    shot(page, "dashboard")

    page.get_by_role("link", name="Curate today's topics").click()
    run_action(page, "Merge selected topics…", rates.pk, rates_too.pk)
    assert (
        "1 article moves into it, 1 topic will be hidden"
        in page.locator(".merge-summary").inner_text()
    )
    shot(page, "merge-confirmation")
    page.get_by_role("button", name="Yes, merge them").click()
    assert "Merged 2 topics into" in page.locator(".messagelist").inner_text()

    page.goto(f"{live_server.url}/admin/topics/topic/{launch.pk}/change/")
    page.get_by_role("link", name="Split or move this topic's articles").click()
    off_topic = launch.articles.get(title="Arsenal go top of the league")
    run_action(page, "Split selected articles out into a new topic…", off_topic.pk)
    shot(page, "split-confirmation")
    page.get_by_role("button", name="Yes, split them out").click()
    assert "Split 1 article(s) out" in page.locator(".messagelist").inner_text()

    page.goto(live_server.url + "/admin/topics/topic/?day=today")
    run_action(page, "Pin selected topics", quiet.pk)
    assert "1 topic(s) pinned." in page.locator(".messagelist").inner_text()
    shot(page, "topics-after")

    page.goto(live_server.url + "/admin/newsletter/digest/")
    page.get_by_role("link", name="Preview today's digest").click()
    assert "Not built yet" in page.content()
    email = page.frame_locator("iframe.preview-html")
    assert "Library opens late" in email.locator("body").inner_text()
    shot(page, "digest-preview")

    # Hold today's digest until later; curation goes on until then.
    later = timezone.localtime() + dt.timedelta(hours=2)
    page.fill('input[name="send_at"]', f"{later:%Y-%m-%dT%H:%M}")
    page.get_by_role("button", name="Schedule").click()
    assert "starts sending" in page.locator(".messagelist").inner_text()
    assert f"{later:%H:%M}" in page.locator(".schedule-state").inner_text()
    shot(page, "digest-scheduled")
    page.goto(live_server.url + "/admin/")
    assert "(scheduled by an editor)" in page.locator(".next-send").inner_text()
    page.locator("#dashboard").get_by_role("link", name="Change the schedule").click()
    page.fill('input[name="send_time"]', "06:45")
    page.get_by_role("button", name="Save", exact=True).click()
    assert "Saved. Next send:" in page.locator(".messagelist").inner_text()
    shot(page, "digest-schedule")
    page.goto(live_server.url + "/admin/newsletter/digest/today/")
    page.get_by_role("button", name="Cancel the scheduled send").click()
    assert "Cancelled the scheduled send" in page.locator(".messagelist").inner_text()
    assert "06:45" in page.locator(".schedule-state").inner_text()

    page.goto(live_server.url + "/")
    headlines = page.locator("article.card h2").all_inner_texts()
    shot(page, "public-site")
    # Pinned first; the merged pair is one story; the split-out article is a story of its own.
    assert headlines[0] == "Library opens late"
    assert len(headlines) == 4
    assert "Arsenal go top of the league" in headlines
    assert ("Fed raises rates" in headlines) != ("Powell lifts rates again" in headlines)
