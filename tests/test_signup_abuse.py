import datetime as dt
import json

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from newsletter import ratelimit, suppression
from newsletter.models import Subscriber, SubscriberStatus, SuppressionReason
from tests.factories import make_subscriber

NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def sign_up(client, email: str, ip: str = "203.0.113.7", **extra: str):
    # The confirmation is mailed once the signup is committed.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/subscribe/", {"email": email, **extra}, REMOTE_ADDR=ip)


def sign_up_json(client, payload: object, ip: str = "203.0.113.7"):
    body = json.dumps(payload)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/subscribe.json", body, content_type="application/json", REMOTE_ADDR=ip)


def test_a_role_address_is_refused_with_a_clear_message(client):
    response = sign_up(client, "postmaster@example.com")
    assert response.status_code == 400
    assert "belong to a role, not a person" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_signups_from_one_ip_are_limited_per_hour(client, settings):
    settings.DAYBRIEF_SIGNUPS_PER_IP_HOUR = 2
    assert sign_up(client, "a@example.com").status_code == 302
    assert sign_up(client, "b@example.com").status_code == 302
    refused = sign_up(client, "c@example.com")
    assert refused.status_code == 429
    assert "try again in 30 minutes" in refused.content.decode()
    # Another visitor is not affected, and the limit refills with time.
    assert sign_up(client, "c@example.com", ip="198.51.100.1").status_code == 302
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False):
        assert sign_up(client, "d@example.com").status_code == 302


def test_one_address_cannot_be_bombed_from_many_ips(client, settings):
    settings.DAYBRIEF_SIGNUPS_PER_ADDRESS_HOUR = 2
    for n in range(2):
        assert sign_up(client, "victim@example.com", ip=f"192.0.2.{n}").status_code == 302
    assert sign_up(client, "Victim@Example.com", ip="192.0.2.99").status_code == 429
    assert len(mail.outbox) == 2


def test_a_refused_address_still_uses_up_the_ips_signup(client, settings):
    settings.DAYBRIEF_SIGNUPS_PER_IP_HOUR = 2
    settings.DAYBRIEF_SIGNUPS_PER_ADDRESS_HOUR = 1
    assert sign_up(client, "victim@example.com").status_code == 302
    assert sign_up(client, "victim@example.com").status_code == 429
    # The IP spent its second signup on the refused attempt.
    assert sign_up(client, "other@example.com").status_code == 429


def test_a_refused_ip_takes_nothing_from_the_address(client, settings):
    settings.DAYBRIEF_SIGNUPS_PER_IP_HOUR = 1
    settings.DAYBRIEF_SIGNUPS_PER_ADDRESS_HOUR = 2
    assert sign_up(client, "a@example.com").status_code == 302
    assert sign_up(client, "b@example.com").status_code == 429
    assert sign_up(client, "b@example.com", ip="198.51.100.1").status_code == 302
    assert sign_up(client, "b@example.com", ip="198.51.100.2").status_code == 302


def test_both_limits_are_taken_in_one_transaction():
    ratelimit.check_rate("203.0.113.7", "a@example.com")
    with CaptureQueriesContext(connection) as queries:
        ratelimit.check_rate("203.0.113.7", "a@example.com")
    # Inside the test's own transaction, each transaction shows up as a savepoint.
    savepoints = [q["sql"] for q in queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) == 1


def test_a_subscribed_address_gets_the_same_answer_as_a_new_one(client):
    make_subscriber("reader@example.com")
    known = sign_up(client, "reader@example.com")
    new = sign_up(client, "newcomer@example.com")
    assert (known.status_code, known.url) == (new.status_code, new.url)
    # Only the newcomer is mailed: the subscriber is not pestered, nor is anything revealed.
    assert [m.to for m in mail.outbox] == [["newcomer@example.com"]]


def test_the_honeypot_answers_like_a_success_but_does_nothing(client, settings):
    settings.DAYBRIEF_SIGNUPS_PER_IP_HOUR = 1
    for _ in range(3):
        response = sign_up(client, "bot@example.com", website="http://spam.example")
        assert response.status_code == 302
    assert not Subscriber.objects.exists()


def test_the_json_endpoint_starts_double_opt_in(client):
    response = sign_up_json(client, {"email": "app@example.com", "name": "App"})
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    subscriber = Subscriber.objects.get()
    assert subscriber.status == SubscriberStatus.PENDING
    [confirmation] = mail.outbox
    # The name typed in is never echoed back in the email.
    assert "App" not in confirmation.body


def test_the_json_endpoint_refuses_bad_input_and_rate_limits_with_retry_after(client, settings):
    assert sign_up_json(client, "not an object").status_code == 400
    assert sign_up_json(client, {"email": "nope"}).status_code == 400
    bad = client.post("/subscribe.json", "{", content_type="application/json")
    assert bad.status_code == 400
    assert "error" in sign_up_json(client, {"email": "abuse@example.com"}).json()
    settings.DAYBRIEF_SIGNUPS_PER_IP_HOUR = 1
    assert sign_up_json(client, {"email": "x@example.com"}, ip="192.0.2.50").status_code == 202
    limited = sign_up_json(client, {"email": "y@example.com"}, ip="192.0.2.50")
    assert limited.status_code == 429
    assert limited["Retry-After"] == "3600"


def test_unsubscribing_suppresses_the_address_until_they_confirm_again(client):
    from newsletter import subscriptions, tokens

    reader = make_subscriber("leaver@example.com")
    subscriptions.unsubscribe(tokens.make_token(tokens.UNSUBSCRIBE, reader.pk))
    assert suppression.is_suppressed("LEAVER@example.com")
    subscriptions.request_subscription("leaver@example.com")
    assert suppression.is_suppressed("leaver@example.com")
    subscriptions.confirm_subscription(tokens.make_token(tokens.CONFIRM, reader.pk))
    assert not suppression.is_suppressed("leaver@example.com")


def test_a_complaint_outlives_a_new_subscription():
    from newsletter import subscriptions, tokens

    reader = make_subscriber("angry@example.com", status=SubscriberStatus.PENDING)
    suppression.suppress("angry@example.com", SuppressionReason.COMPLAINT)
    subscriptions.confirm_subscription(tokens.make_token(tokens.CONFIRM, reader.pk))
    assert suppression.is_suppressed("angry@example.com")


def test_the_suppression_list_keeps_no_address():
    suppression.suppress("Someone@Example.com ", SuppressionReason.HARD_BOUNCE)
    stored = suppression.Suppression.objects.get()
    assert "example" not in stored.address_hash
    assert stored.address_hash == suppression.address_hash("someone@example.com")
