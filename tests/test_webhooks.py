import base64
import json

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.contrib.auth.models import User
from django.core import mail
from django.test import TestCase

from newsletter import suppression, webhooks
from newsletter.models import Delivery, DeliveryStatus, Digest, DigestStatus, WebhookEvent
from tests.factories import make_subscriber

pytestmark = [pytest.mark.django_db]


def provider_sends(event_type: str, recipient: str, event_id: str, message_id: str = "") -> None:
    """What Anymail does when a provider's webhook arrives (tasks run inline in tests)."""
    event = AnymailTrackingEvent(
        event_type=event_type, recipient=recipient, event_id=event_id, message_id=message_id
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        tracking.send(sender=object, event=event, esp_name="Postmark")


def sent_digest(readers: int) -> Digest:
    digest = Digest.objects.create(date="2026-11-26", subject="Daybrief", status="sending")
    Delivery.objects.bulk_create(
        Delivery(
            digest=digest,
            subscriber=make_subscriber(f"r{n}@example.com"),
            status=DeliveryStatus.SENT,
            message_id=f"<m{n}@daybrief>",
        )
        for n in range(readers)
    )
    return digest


def test_a_complaint_suppresses_the_address_and_a_retried_webhook_changes_nothing():
    provider_sends("complained", "Angry@Example.com", "ev-1")
    provider_sends("complained", "Angry@Example.com", "ev-1")
    assert WebhookEvent.objects.count() == 1
    assert suppression.is_suppressed("angry@example.com")
    assert WebhookEvent.objects.get().processed_at is not None


def test_a_hard_bounce_suppresses_at_once_soft_ones_after_the_limit(settings):
    settings.DAYBRIEF_SOFT_BOUNCE_LIMIT = 3
    provider_sends("bounced", "gone@example.com", "ev-1")
    assert suppression.is_suppressed("gone@example.com")
    for n in range(2):
        provider_sends("deferred", "full@example.com", f"soft-{n}")
    assert not suppression.is_suppressed("full@example.com")
    provider_sends("deferred", "full@example.com", "soft-2")
    assert suppression.is_suppressed("full@example.com")


def test_events_we_do_not_act_on_are_not_stored():
    provider_sends("opened", "reader@example.com", "ev-open")
    provider_sends("delivered", "reader@example.com", "ev-done")
    assert not WebhookEvent.objects.exists()


def test_processing_an_event_twice_does_it_once():
    provider_sends("bounced", "gone@example.com", "ev-1")
    event = WebhookEvent.objects.get()
    assert webhooks.process_event(event.pk) == ""


def test_complaints_above_a_tenth_of_a_percent_pause_the_digest_and_tell_editors():
    User.objects.create_user("editor", "editor@example.com", is_staff=True)
    digest = sent_digest(readers=20)
    provider_sends("complained", "r0@example.com", "ev-1", message_id="<m0@daybrief>")
    digest.refresh_from_db()
    assert digest.status == DigestStatus.PAUSED
    [alert] = mail.outbox
    assert alert.to == ["editor@example.com"]
    assert "paused itself" in alert.body
    assert WebhookEvent.objects.get().delivery.subscriber.email == "r0@example.com"


def test_bounces_under_five_percent_leave_the_digest_running():
    digest = sent_digest(readers=40)
    provider_sends("bounced", "r0@example.com", "ev-1", message_id="<m0@daybrief>")
    digest.refresh_from_db()
    # 1 in 40 is 2.5%.
    assert digest.status == DigestStatus.SENDING
    assert webhooks.digest_rates(digest.pk) == (0.0, 1 / 40)


# --- Real provider POSTs to the mounted anymail views -----------------------------------

SECRET = "postmark:" + "s3cr3t-" * 3
POSTMARK_URL = "/anymail/postmark/tracking/"


def postmark_event(record_type: str, bounce_type: str, email: str, message_id: str) -> dict:
    """A webhook body as Postmark sends it (developer docs, "Bounce webhook")."""
    return {
        "RecordType": record_type,
        "ID": 4323372036854775807,
        "Type": bounce_type,
        "TypeCode": 1 if bounce_type == "HardBounce" else 512,
        "MessageID": message_id,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "digest@news.example.org",
        "BouncedAt": "2026-11-26T07:03:54.9070259Z",
        "Inactive": True,
        "Subject": "Daybrief",
        "Metadata": {},
    }


def basic_auth(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


def post_to_postmark(client, body: dict, secret: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            POSTMARK_URL,
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic_auth(secret),
        )


@pytest.fixture
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def test_a_postmark_hard_bounce_for_a_sent_digest_suppresses_the_reader(client, webhook_secret):
    digest = sent_digest(readers=1)
    body = postmark_event("Bounce", "HardBounce", "r0@example.com", "<m0@daybrief>")
    response = post_to_postmark(client, body, SECRET)
    assert response.status_code == 200
    assert suppression.is_suppressed("r0@example.com")
    event = WebhookEvent.objects.get()
    assert (event.esp, event.event_id, event.bounce_kind) == ("Postmark", str(body["ID"]), "hard")
    assert event.delivery.digest == digest
    # The provider retries the same event: stored once.
    assert post_to_postmark(client, body, SECRET).status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_a_postmark_spam_complaint_suppresses_the_reader(client, webhook_secret):
    body = postmark_event("SpamComplaint", "SpamComplaint", "angry@example.com", "x-1")
    assert post_to_postmark(client, body, SECRET).status_code == 200
    assert suppression.is_suppressed("angry@example.com")


def test_a_postmark_soft_bounce_counts_towards_the_limit_instead_of_suppressing(
    client, webhook_secret
):
    body = postmark_event("Bounce", "SoftBounce", "full@example.com", "x-2")
    assert post_to_postmark(client, body, SECRET).status_code == 200
    assert WebhookEvent.objects.get().bounce_kind == "soft"
    assert not suppression.is_suppressed("full@example.com")


def test_a_webhook_with_the_wrong_secret_or_none_is_refused(client, webhook_secret):
    body = postmark_event("Bounce", "HardBounce", "reader@example.com", "x-3")
    assert post_to_postmark(client, body, "postmark:guessed").status_code == 400
    response = client.post(POSTMARK_URL, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert not suppression.is_suppressed("reader@example.com")
