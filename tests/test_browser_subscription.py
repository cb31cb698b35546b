"""A reader's whole life with the newsletter in a real browser: sign up, confirm from the
email, change preferences from the signed link, and unsubscribe."""

import os
import re
from urllib.parse import urlsplit

import pytest
from django.core import mail

from newsletter import tokens
from newsletter.models import Subscriber, SubscriberStatus
from tests.browser import ARTIFACTS, chromium, needs_chromium

# Playwright's sync API runs an event loop in this thread; the ORM calls around it are
# synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@pytest.fixture
def page(transactional_db):
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 390, "height": 844})


def shoot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"subscription-{name}.png", full_page=True)


def test_sign_up_confirm_choose_preferences_and_leave(page, live_server):
    page.goto(live_server.url + "/subscribe/")
    page.fill("input[name=email]", "reader@example.com")
    shoot(page, "1-signup")
    page.click("button:has-text('Subscribe')")
    page.wait_for_url(re.compile(r".*/subscribe/check-your-inbox/$"))

    [confirmation] = mail.outbox
    link = re.search(r"https?://\S+/confirm/\S+/", confirmation.body).group(0)
    page.goto(live_server.url + urlsplit(link).path)
    # Opening the link changes nothing: only the button confirms.
    assert Subscriber.objects.get().status == SubscriberStatus.PENDING
    page.click("button:has-text('Confirm')")
    page.wait_for_load_state()
    reader = Subscriber.objects.get()
    assert reader.status == SubscriberStatus.CONFIRMED
    shoot(page, "2-confirmed")

    token = tokens.make_token(tokens.PREFERENCES, reader.pk)
    page.goto(f"{live_server.url}/preferences/{token}/")
    page.fill("input[name=max_topics]", "5")
    page.select_option("select[name=delivery_hour]", "6")
    page.select_option("select[name=time_zone]", "Europe/Paris")
    page.check("input[name=paused]")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Saved.")
    shoot(page, "3-preferences")
    reader.refresh_from_db()
    assert (reader.max_topics, reader.delivery_hour, reader.time_zone) == (5, 6, "Europe/Paris")
    assert reader.paused

    page.click("text=Unsubscribe instead")
    page.click("button:has-text('Unsubscribe')")
    page.wait_for_load_state()
    shoot(page, "4-unsubscribed")
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED
