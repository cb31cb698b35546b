"""The whole pipeline over real sockets: feeds served over local HTTP, a reader who signs up
and confirms by email, fetch, clustering, the digest, and delivery to a real SMTP server."""

import datetime as dt
import re
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from newsletter import tasks as newsletter_tasks
from newsletter.models import Delivery, DeliveryStatus, Subscriber, SubscriberStatus
from tests.feedserver import FeedServer
from tests.smtpserver import running_smtp_server, use_smtp_server
from topics import tasks as topic_tasks
from topics.models import Source, Topic

# Three stories: one covered by all three outlets, one by two, one by a single blog.
STORIES = {
    "harbour": [
        (
            "Port of Velmara strike halts container traffic for a second day",
            "Dock workers at the Port of Velmara extended their strike over automation plans, "
            "leaving container ships anchored offshore and freight rates climbing.",
        ),
        (
            "Velmara dock strike enters second day as ships queue offshore",
            "The strike at the Port of Velmara over automation plans has stranded container ships "
            "and pushed freight rates higher, shippers said.",
        ),
        (
            "Strike at Port of Velmara: container ships wait as automation dispute drags on",
            "Container traffic at the Port of Velmara stayed frozen as dock workers and the port "
            "authority failed to settle the dispute over automation.",
        ),
    ],
    "battery": [
        (
            "Ostrava Cells opens sodium battery plant in Kessel",
            "Ostrava Cells opened its first sodium-ion battery plant in Kessel, promising cheaper "
            "storage for the regional grid.",
        ),
        (
            "Kessel sodium-ion battery factory from Ostrava Cells starts production",
            "The new Ostrava Cells factory in Kessel began making sodium-ion battery packs for "
            "grid storage this week.",
        ),
    ],
    "essay": [
        (
            "Why small libraries still matter",
            "An essay on the quiet civic role of small public libraries in rural towns.",
        ),
    ],
}
# Which outlet carries which story (by index into each story's list).
OUTLETS = {
    "wire": [("harbour", 0), ("battery", 0)],
    "daily": [("harbour", 1), ("battery", 1)],
    "blog": [("harbour", 2), ("essay", 0)],
}


def rss(outlet: str, now: dt.datetime) -> str:
    items = []
    for n, (story, index) in enumerate(OUTLETS[outlet]):
        title, summary = STORIES[story][index]
        published = format_datetime(now - dt.timedelta(hours=2 + n))
        items.append(
            f"<item><title>{title}</title><link>https://{outlet}.example.com/{story}</link>"
            f"<guid>https://{outlet}.example.com/{story}</guid>"
            f"<description>{summary}</description><pubDate>{published}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{outlet}</title><link>https://{outlet}.example.com/</link>"
        f"<description>{outlet} news</description>{''.join(items)}</channel></rss>"
    )


@pytest.fixture
def feeds():
    now = timezone.now()
    with FeedServer() as server:
        for outlet in OUTLETS:
            server.route(
                f"/{outlet}.xml", rss(outlet, now), headers={"Content-Type": "application/rss+xml"}
            )
            Source.objects.create(name=outlet.title(), feed_url=server.url(f"/{outlet}.xml"))
        yield server


@pytest.fixture
def smtp(settings):
    with running_smtp_server() as server:
        use_smtp_server(settings, server)
        yield server


def sign_up_and_confirm(client, smtp, capture_on_commit, email: str) -> None:
    before = len(smtp.messages)
    # The confirmation is mailed once the signup is committed.
    with capture_on_commit(execute=True):
        client.post("/subscribe/", {"email": email, "name": ""})
    confirmation = smtp.messages[before]
    assert confirmation.rcpt_tos == [email]
    link = re.search(r"https?://\S+/confirm/\S+/", confirmation.part("plain")).group(0)
    # Link scanners only GET; a person presses the button, which POSTs.
    client.post(urlsplit(link).path)


@pytest.mark.django_db
def test_feeds_become_a_ranked_digest_in_every_confirmed_readers_inbox(
    client, feeds, smtp, django_capture_on_commit_callbacks
):
    for email in ["ana@example.com", "bo@example.com"]:
        sign_up_and_confirm(client, smtp, django_capture_on_commit_callbacks, email)
    client.post("/subscribe/", {"email": "never-confirms@example.com", "name": ""})
    assert Subscriber.objects.filter(status=SubscriberStatus.CONFIRMED).count() == 2

    summary = topic_tasks.fetch_round()
    assert summary["new_articles"] == 6
    topics = list(Topic.objects.visible().ranked())
    assert [t.article_count for t in topics] == [3, 2, 1]
    assert topics[0].coverage_label == "3 sources"
    assert topics[2].coverage_label == "single-source"

    smtp.handler.messages.clear()
    newsletter_tasks.daily_digest()

    digests = sorted(smtp.messages, key=lambda m: m.rcpt_tos)
    assert [m.rcpt_tos for m in digests] == [["ana@example.com"], ["bo@example.com"]]
    for received in digests:
        message = received.message
        assert topics[0].headline in message["Subject"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/unsubscribe/" in message["List-Unsubscribe"]
        text, html = received.part("plain"), received.part("html")
        for body in (text, html):
            positions = [body.find(t.headline) for t in topics]
            # Every headline is there, in ranked order.
            assert -1 not in positions and positions == sorted(positions), positions
        assert "{{" not in html and "{%" not in html
    ledger = Delivery.objects.values_list("subscriber__email", "status")
    assert sorted(ledger) == [
        ("ana@example.com", DeliveryStatus.SENT),
        ("bo@example.com", DeliveryStatus.SENT),
    ]

    # The schedule may fire twice: nobody gets a second copy.
    newsletter_tasks.daily_digest()
    assert len(smtp.messages) == 2
