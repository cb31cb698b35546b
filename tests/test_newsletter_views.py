import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse

from newsletter import tokens
from newsletter.digests import build_digest
from newsletter.models import Subscriber, SubscriberStatus
from tests.factories import make_article, make_subscriber, make_topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def csrf_client() -> Client:
    # Enforce CSRF as production does; the default test client skips the check.
    return Client(enforce_csrf_checks=True)


def unsubscribe_url(subscriber: Subscriber) -> str:
    return reverse(
        "newsletter:unsubscribe", args=[tokens.make_token(tokens.UNSUBSCRIBE, subscriber.pk)]
    )


def confirm_url(subscriber: Subscriber) -> str:
    return reverse("newsletter:confirm", args=[tokens.make_token(tokens.CONFIRM, subscriber.pk)])


def test_subscribe_page_shows_a_form_with_a_csrf_token(client):
    response = client.get(reverse("newsletter:subscribe"))
    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert b'type="email"' in response.content


def test_subscribing_sends_a_confirmation_and_shows_the_check_your_inbox_page(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("newsletter:subscribe"), {"email": "alice@example.com", "name": "Alice"}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("newsletter:subscribe_pending")
    assert Subscriber.objects.get().status == SubscriberStatus.PENDING
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert client.get(response["Location"]).status_code == 200


def test_subscribing_an_already_subscribed_address_looks_the_same_but_sends_nothing(
    client, django_capture_on_commit_callbacks
):
    make_subscriber("alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("newsletter:subscribe"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("newsletter:subscribe_pending")
    assert mail.outbox == []


class DownBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def test_a_mail_server_outage_does_not_break_the_signup_page(
    client, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.test_newsletter_views.DownBackend"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("newsletter:subscribe"), {"email": "alice@example.com"})
    assert response.status_code == 302
    # Still pending: signing up again resends the link.
    assert Subscriber.objects.get().status == SubscriberStatus.PENDING


def test_an_invalid_address_redisplays_the_form_with_an_error(client):
    response = client.post(reverse("newsletter:subscribe"), {"email": "not-an-address"})
    assert response.status_code == 200
    assert b"aria-invalid" in response.content
    assert not Subscriber.objects.exists()


def test_the_honeypot_makes_bots_believe_they_succeeded(client):
    response = client.post(
        reverse("newsletter:subscribe"), {"email": "bot@example.com", "website": "spam"}
    )
    assert response.status_code == 302
    assert not Subscriber.objects.exists()


def test_subscribe_post_without_a_csrf_token_is_refused(csrf_client):
    response = csrf_client.post(reverse("newsletter:subscribe"), {"email": "a@example.com"})
    assert response.status_code == 403


def test_opening_a_confirm_link_shows_a_button_and_confirms_nothing_yet(client):
    alice = make_subscriber("alice@example.com", status=SubscriberStatus.PENDING)
    response = client.get(confirm_url(alice))
    assert response.status_code == 200
    assert b'method="post"' in response.content
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.PENDING


def test_pressing_confirm_confirms(client):
    alice = make_subscriber("alice@example.com", status=SubscriberStatus.PENDING)
    response = client.post(confirm_url(alice))
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.CONFIRMED


def test_a_forged_confirm_link_gets_a_clear_400(client):
    response = client.get(reverse("newsletter:confirm", args=["MQ:forged:token"]))
    assert response.status_code == 400
    assert b"This link does not work" in response.content
    assert client.post(reverse("newsletter:confirm", args=["MQ:forged:token"])).status_code == 400


def test_opening_an_unsubscribe_link_does_not_unsubscribe(client):
    alice = make_subscriber("alice@example.com")
    response = client.get(unsubscribe_url(alice))
    assert response.status_code == 200
    assert b'method="post"' in response.content
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.CONFIRMED


def test_one_click_post_unsubscribes_at_once_without_csrf_or_email(csrf_client):
    alice = make_subscriber("alice@example.com")
    # Exactly what a mail provider sends under RFC 8058.
    response = csrf_client.post(
        unsubscribe_url(alice),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.UNSUBSCRIBED
    assert mail.outbox == []


def test_the_unsubscribe_button_unsubscribes_and_says_goodbye_by_email(
    client, django_capture_on_commit_callbacks
):
    alice = make_subscriber("alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(unsubscribe_url(alice), {"confirm": "yes"})
    assert response.status_code == 200
    assert b"unsubscribed" in response.content
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.UNSUBSCRIBED
    assert [m.subject for m in mail.outbox] == ["You have left Daybrief"]


def test_unsubscribing_twice_still_answers_200(client):
    alice = make_subscriber("alice@example.com")
    client.post(
        unsubscribe_url(alice),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    response = client.post(
        unsubscribe_url(alice),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200


def test_a_forged_unsubscribe_link_gets_a_clear_400_and_changes_nothing(client):
    alice = make_subscriber("alice@example.com")
    confirm_token = tokens.make_token(tokens.CONFIRM, alice.pk)
    url = reverse("newsletter:unsubscribe", args=[confirm_token])
    assert client.get(url).status_code == 400
    response = client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.CONFIRMED


@time_machine.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC), tick=False)
def test_archive_shows_the_days_cards_and_nobodys_personal_data(client):
    article = make_article(title="Rates cut: the report")
    make_topic(
        [article],
        headline="Rates cut",
        dek="Borrowing gets cheaper.",
        score=1,
        article_count=1,
        lead_article=article,
    )
    make_subscriber("alice@example.com", name="Alice Example")
    digest = build_digest(dt.date(2026, 11, 26))
    response = client.get(digest.get_absolute_url())
    assert response.status_code == 200
    content = response.content.decode()
    assert "Rates cut" in content
    assert "Borrowing gets cheaper." in content
    assert "alice@example.com" not in content
    assert "Alice Example" not in content
    assert "/unsubscribe/" not in content


def test_archive_of_an_unknown_day_or_a_non_date_is_404(client):
    assert client.get(reverse("newsletter:archive", args=["2001-01-01"])).status_code == 404
    assert client.get(reverse("newsletter:archive", args=["yesterday"])).status_code == 404
